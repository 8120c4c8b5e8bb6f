"""One JSON log line per event, carrying the trace and span of the request that caused it.

Every line has the same keys (timestamp, level, service, message, trace_id, span_id, error_code,
context) so that `grep trace_id` or `jq` works the same way on every service. Callers pass extras
through `fields()`: `logger.warning("charge rejected", extra=fields("conflict", user_id=u))`.
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

_RESERVED = "error_code", "context"


def fields(error_code: str | None = None, **context: Any) -> dict[str, Any]:
    """The `extra=` of a log call: an optional error_code and free-form context."""
    return {"error_code": error_code, "context": context}


def current_trace_ids() -> tuple[str | None, str | None]:
    """The (trace_id, span_id) of the active span as hex strings, or Nones outside a trace."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = current_trace_ids()
        context = dict(getattr(record, "context", None) or {})
        if record.exc_info:
            context["exception"] = self.formatException(record.exc_info)
        timestamp = datetime.fromtimestamp(record.created, UTC)
        line = {
            "timestamp": timestamp.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": trace_id,
            "span_id": span_id,
            "error_code": getattr(record, "error_code", None),
            "context": context,
        }
        return json.dumps(line, default=str)


def configure_logging(service: str, level: str) -> None:
    """Send every logger of the process, uvicorn's included, through one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # The kit writes its own access line per request, with the trace_id; uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
