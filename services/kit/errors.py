"""RFC 9457 problem+json errors carrying `error_code` and `trace_id`, for every error path.

Raise `Problem` from a handler; validation errors, unknown routes, unreachable databases and
unhandled exceptions are turned into the same shape here, each logged as one JSON line and
counted by error_code.
"""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit.logging import current_trace_ids, fields

logger = logging.getLogger("kit.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Seconds a client should wait before retrying when a dependency is down.
RETRY_AFTER_S = 5


class ProblemDetails(BaseModel):
    """The body of every error answer (RFC 9457), as the services' OpenAPI documents it."""

    # Extension members beyond these (`errors`, `checks`, ...) depend on the error.
    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="urn:drill-lab:problem:<error_code>")
    title: str
    status: int
    detail: str | None
    instance: str = Field(description="The request's path.")
    error_code: str
    trace_id: str | None = Field(description="The request's trace (32 hex digits), if traced.")


class Problem(Exception):
    """An error a handler raises on purpose; rendered as problem+json."""

    def __init__(
        self,
        status: int,
        error_code: str,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.error_code = error_code
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    """Render a problem, log it as one JSON line and count it."""
    trace_id, _ = current_trace_ids()
    body: dict[str, Any] = {
        "type": f"urn:drill-lab:problem:{problem.error_code}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        "error_code": problem.error_code,
        "trace_id": trace_id,
        **problem.extra,
    }
    level = logging.ERROR if problem.status >= 500 else logging.WARNING
    logger.log(
        level,
        problem.title,
        extra=fields(
            problem.error_code,
            status=problem.status,
            method=request.method,
            path=request.url.path,
            detail=problem.detail,
        ),
    )
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.count_error(problem.error_code)
    return JSONResponse(
        jsonable_encoder(body),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        for err in exc.errors()
    ]
    problem = Problem(
        422,
        "validation_error",
        "Request is not valid",
        "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors),
        extra={"errors": errors},
    )
    return problem_response(request, problem)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        return problem_response(request, _unparseable_body(exc))
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    problem = Problem(exc.status_code, code, str(exc.detail), headers=exc.headers)
    return problem_response(request, problem)


def _unparseable_body(exc: StarletteHTTPException) -> Problem:
    """The framework's only 400: a body it could not even decode (bytes that are not UTF-8, say).

    A body that is not JSON at all is as invalid as one that breaks the schema, and FastAPI
    already answers malformed JSON with a validation error: one status, 422, for both, the one
    every operation documents.
    """
    cause = exc.__cause__
    reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc.detail)
    errors = [
        {"loc": ["body"], "msg": f"the body cannot be parsed ({reason})", "type": "json_invalid"}
    ]
    return Problem(
        422,
        "validation_error",
        "Request is not valid",
        f"body: {errors[0]['msg']}",
        extra={"errors": errors},
    )


async def _on_database(request: Request, exc: Exception) -> JSONResponse:
    logger.error("database unreachable", exc_info=exc, extra=fields("database_unavailable"))
    problem = Problem(
        503,
        "database_unavailable",
        "Database unavailable",
        # Not "nothing was written": a connection lost while committing leaves the outcome
        # unknown to the service (tests/hostile/test_billing_db_down.py shows it happen).
        "The service cannot reach its database. Retry later, unchanged: a write cut off while "
        "committing may have been saved.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
    return problem_response(request, problem)


def unhandled_error_response(request: Request, exc: Exception) -> JSONResponse:
    """The 500 answer to an exception no handler expected (called by the kit's middleware)."""
    logger.error("unhandled exception", exc_info=exc, extra=fields("internal_error"))
    return problem_response(request, Problem(500, "internal_error", "Internal server error"))


def install_error_handlers(app: FastAPI) -> None:
    """Make every error path of the app answer problem+json."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    # A lost connection, a refused one, or a pool with no free connection: all mean "retry later".
    for db_error in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.add_exception_handler(db_error, _on_database)
