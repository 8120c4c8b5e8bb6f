"""OpenTelemetry tracing, configured by the standard OTEL_* environment variables.

Spans are always recorded, so every log line and error body carries a trace_id; they are exported
over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_ variant) is set, as it is in
the Docker lab where Jaeger receives them (and in the local lab with `drill up --traces`).

A trace is a request. Work outside any request must not bury the requests in the trace store:
start-up work (schema, seed data) and readiness probes run `untraced()`, and a background job
makes one trace per run, its statements inside (`job_run`).
"""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from opentelemetry import context, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.engine import Engine

_lock = threading.Lock()
_provider: TracerProvider | None = None


def tracer_provider(service: str) -> TracerProvider:
    """The process-wide tracer provider, made on first use.

    OpenTelemetry allows one global provider per process; tests build many apps in one process,
    so the first service name wins there (OTEL_SERVICE_NAME, when set, always wins).
    """
    global _provider
    with _lock:
        if _provider is None:
            resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service)})
            _provider = TracerProvider(resource=resource)
            if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
            ):
                # Imported here: the exporter pulls in protobuf, which only the Docker lab needs.
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(_provider)
            HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
        return _provider


def instrument_app(app: FastAPI, service: str) -> None:
    """Trace every request the app serves (one server span each: the ASGI layer's "http send"
    and "http receive" spans say nothing a reader of the trace needs)."""
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider(service),
        excluded_urls="healthz,readyz,metrics",
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: Engine, service: str) -> None:
    """Trace every SQL statement the engine runs, as child spans of the request."""
    SQLAlchemyInstrumentor().instrument(engine=engine, tracer_provider=tracer_provider(service))


@contextmanager
def untraced() -> Iterator[None]:
    """Run work that belongs to no request (start-up, probes) without making spans: the
    instrumentations (SQL statements, HTTP calls) record nothing inside."""
    with suppress_instrumentation():
        yield


@contextmanager
def job_run(name: str) -> Iterator[trace.Span]:
    """One run of a background job as a trace of its own: a root span named `name` (whatever span
    is current), with the run's statements and calls inside it, and its log lines carrying its
    trace_id. An exception escaping the run is recorded on the span."""
    tracer = trace.get_tracer("services.kit.jobs")
    with tracer.start_as_current_span(
        name, context=context.Context(), kind=trace.SpanKind.INTERNAL
    ) as span:
        yield span
