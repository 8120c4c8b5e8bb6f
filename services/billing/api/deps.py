"""Dependencies the billing routes share."""

from typing import Annotated

from fastapi import Depends, Request


async def _raw_body(request: Request) -> str:
    # Starlette caches the body, so reading it here costs nothing extra.
    return (await request.body()).decode("utf-8", errors="replace")


RawBody = Annotated[str, Depends(_raw_body)]
"""The request body exactly as received, kept with each transaction for audit."""
