"""Per-request golden signals (latency histogram, in-flight gauge, one access log line), and the
last line of defence: an unhandled exception still answers problem+json."""

import logging
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.errors import unhandled_error_response
from services.kit.logging import current_trace_ids, fields
from services.kit.metrics import ServiceMetrics

access_logger = logging.getLogger("kit.access")
# Probes and scrapes come every few seconds; logging them would bury the lines that matter.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestMetricsMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware) so streaming and background tasks are untouched.

    It runs inside OpenTelemetry's middleware, so the request's span is current here and its
    trace_id goes into the access line and, as an exemplar, into the histogram.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = False
        in_flight = self.metrics.in_flight.labels(self.metrics.service)

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            nonlocal started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        start = time.perf_counter()
        in_flight.inc()
        try:
            await self.app(scope, receive, send_and_record_status)
        except Exception as exc:
            if started:
                raise
            # Answer problem+json here rather than in Starlette's ServerErrorMiddleware, which
            # re-raises after answering and makes uvicorn drop the client's keep-alive connection.
            response = unhandled_error_response(Request(scope), exc)
            await response(scope, receive, send_and_record_status)
        finally:
            elapsed = time.perf_counter() - start
            in_flight.dec()
            self._record(scope, status, elapsed)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        route = scope.get("route")
        # The route template (/v1/users/{user_id}/balance), never the raw path: bounded labels.
        template = getattr(route, "path", None) or "unmatched"
        trace_id, _ = current_trace_ids()
        self.metrics.request_duration.labels(
            self.metrics.service, scope["method"], template, str(status)
        ).observe(elapsed, exemplar={"trace_id": trace_id} if trace_id else None)
        if scope["path"] not in QUIET_PATHS:
            access_logger.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra=fields(
                    None,
                    method=scope["method"],
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                ),
            )
