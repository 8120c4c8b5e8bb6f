"""The app factory every service builds on: one call gives health, readiness, metrics, tracing,
JSON logs and problem+json errors, so a service only adds its routers and its own checks."""

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client.exposition import choose_encoder

from services.kit.errors import (
    PROBLEM_MEDIA_TYPE,
    RETRY_AFTER_S,
    Problem,
    ProblemDetails,
    install_error_handlers,
)
from services.kit.logging import configure_logging
from services.kit.metrics import ServiceMetrics
from services.kit.middleware import RequestMetricsMiddleware
from services.kit.settings import ServiceSettings
from services.kit.telemetry import instrument_app, tracer_provider, untraced

ReadinessCheck = Callable[[], None]
"""A function that returns when a dependency answers and raises when it does not."""

# Readiness asks a called service's /healthz (is it alive), not its /readyz: one service's
# readiness must not hang on the readiness of everything behind its callee (or loop round a cycle).
READY_PROBE_TIMEOUT_S = 1.0


def healthz_probe(url: str) -> ReadinessCheck:
    """A readiness check that passes when the service at `url` answers /healthz."""

    def check() -> None:
        httpx.get(f"{url}/healthz", timeout=READY_PROBE_TIMEOUT_S).raise_for_status()

    return check


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class ServiceApp(FastAPI):
    """FastAPI, with an OpenAPI document that tells the truth about error answers: every one is
    problem+json (services/kit/errors.py), whatever FastAPI would document by default."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = super().openapi()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            # FastAPI's default 422 body, which no service of ours ever sends.
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            schemas["Problem"] = ProblemDetails.model_json_schema()
            problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        if status.isdigit() and int(status) >= 400:
                            response["content"] = problem
            self.openapi_schema = document
        return self.openapi_schema


def build_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    readiness: dict[str, ReadinessCheck],
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """A FastAPI app with the kit's signals and error handling, serving the given routers."""
    configure_logging(settings.service_name, settings.log_level)
    tracer_provider(settings.service_name)
    app = ServiceApp(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = ServiceMetrics(settings.service_name)
    app.add_middleware(RequestMetricsMiddleware, metrics=app.state.metrics)
    install_error_handlers(app)
    app.include_router(_operational_router(settings.service_name, readiness))
    for router in routers:
        app.include_router(router)
    instrument_app(app, settings.service_name)
    return app


def _operational_router(service: str, readiness: dict[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "service": service}

    @router.get("/readyz", responses={503: {"description": "A dependency does not answer"}})
    def readyz() -> dict[str, Any]:
        """Readiness: every dependency of the service answers."""
        checks: dict[str, str] = {}
        for name, check in readiness.items():
            try:
                # Probes come every few seconds (the Docker lab's healthchecks): their statements
                # and calls would make a trace each, burying the requests.
                with untraced():
                    check()
                checks[name] = "ok"
            except Exception as exc:  # any failure means "not ready", and is reported
                checks[name] = f"failed: {type(exc).__name__}: {exc}"
        if any(result != "ok" for result in checks.values()):
            raise Problem(
                503,
                "not_ready",
                "Service not ready",
                f"{service}: a dependency does not answer",
                headers={"Retry-After": str(RETRY_AFTER_S)},
                extra={"checks": checks},
            )
        return {"status": "ready", "service": service, "checks": checks}

    @router.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus exposition; OpenMetrics (with trace exemplars) when a scraper asks."""
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(request.app.state.metrics.registry), media_type=content_type)

    return router
