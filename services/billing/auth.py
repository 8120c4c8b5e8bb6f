"""Bearer-token authentication and role-based access, from the tokens in settings."""

import secrets
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.billing.settings import BillingSettings
from services.kit.errors import Problem


class Role(StrEnum):
    """What a token may do."""

    WRITE = "billing:write"
    READ = "billing:read"


_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _roles_of(token: str, settings: BillingSettings) -> frozenset[Role]:
    grants = {
        settings.billing_writer_token: frozenset({Role.WRITE, Role.READ}),
        settings.billing_reader_token: frozenset({Role.READ}),
    }
    roles: frozenset[Role] = frozenset()
    # Compare against every token, in constant time, so timing reveals nothing about them.
    for known, granted in grants.items():
        if secrets.compare_digest(token.encode(), known.encode()):
            roles = granted
    return roles


def require(role: Role) -> Callable[[Request, Credentials], None]:
    """A dependency that lets the request through only if its bearer token grants `role`."""

    def check(request: Request, credentials: Credentials) -> None:
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None:
            raise Problem(401, "unauthenticated", "Bearer token required", headers=challenge)
        roles = _roles_of(credentials.credentials, request.app.state.settings)
        if not roles:
            raise Problem(401, "unauthenticated", "Unknown bearer token", headers=challenge)
        if role not in roles:
            raise Problem(403, "forbidden", "Token lacks the required role", f"needs {role}")

    return check
