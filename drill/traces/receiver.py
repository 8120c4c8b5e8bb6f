"""The OTLP/HTTP trace receiver: a Starlette app, served by uvicorn (`python -m drill.traces`).

It accepts what an OpenTelemetry SDK's OTLP/HTTP exporter sends (`POST /v1/traces`, protobuf,
optionally gzip- or deflate-compressed, as OTEL_EXPORTER_OTLP_COMPRESSION chooses), decodes it
with opentelemetry-proto, keeps the spans in memory, and answers JSON questions about them:

    GET    /api/traces?limit=20&service=NAME   the traces that last received spans, newest first
    GET    /api/traces/{trace_id}              one trace's spans
    GET    /api/spans?since=SEQ&limit=N        spans received after the SEQ-th (`seq` numbers)
    DELETE /api/traces                         forget every span
    GET    /healthz                            alive, with counts
"""

import gzip
import zlib

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from drill.traces.spans import BadPayload, Span, decode
from drill.traces.store import TraceStore

PROTOBUF = "application/x-protobuf"
# An export batch is 512 spans by default; this leaves room for very large attributes.
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_LIMIT = 100_000


class TooLarge(Exception):
    """The request body, as sent or decompressed, exceeds MAX_BODY_BYTES."""


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decompressor = zlib.decompressobj()
    else:
        raise ValueError(f"unsupported Content-Encoding {encoding!r} (gzip, deflate or none)")
    try:
        plain = decompressor.decompress(body, MAX_BODY_BYTES + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise ValueError(f"body is not valid {encoding}: {exc}") from None
    if len(plain) > MAX_BODY_BYTES:
        raise TooLarge
    return plain


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number, not {raw!r}")
    return min(int(raw), MAX_LIMIT)


def _trace_json(spans: list[Span]) -> dict[str, object]:
    return {"trace_id": spans[0].trace_id, "spans": [span.as_json() for span in spans]}


def create_app(store: TraceStore | None = None) -> Starlette:
    """The receiver, keeping spans in `store` (a new one by default)."""
    spans_store = store if store is not None else TraceStore()

    async def export(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (PROTOBUF, "application/protobuf"):
            return PlainTextResponse(
                f"send OTLP protobuf ({PROTOBUF}), not {content_type or 'no content type'}: "
                "set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
                status_code=415,
            )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse("request body too large", status_code=413)
        encoding = request.headers.get("content-encoding", "").strip().lower()
        try:
            spans = decode(_decompress(bytes(body), encoding))
        except TooLarge:
            return PlainTextResponse("request body too large once decompressed", status_code=413)
        except (ValueError, BadPayload) as exc:
            return PlainTextResponse(str(exc), status_code=400)
        spans_store.add(spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        return Response(answer, media_type=PROTOBUF)

    async def list_traces(request: Request) -> Response:
        try:
            limit = _int_param(request, "limit", 20)
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        found = spans_store.traces(limit, request.query_params.get("service") or None)
        return JSONResponse({"traces": [_trace_json(spans) for spans in found]})

    async def one_trace(request: Request) -> Response:
        spans = spans_store.trace(str(request.path_params["trace_id"]).lower())
        if spans is None:
            return PlainTextResponse("no such trace", status_code=404)
        return JSONResponse(_trace_json(spans))

    async def spans_since(request: Request) -> Response:
        try:
            since = _int_param(request, "since", 0)
            limit = _int_param(request, "limit", MAX_LIMIT)
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        found = spans_store.since(since, limit)
        received = spans_store.stats()["received"]
        return JSONResponse({"spans": [span.as_json() for span in found], "received": received})

    async def forget(_request: Request) -> Response:
        spans_store.clear()
        return JSONResponse(spans_store.stats())

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok", **spans_store.stats()})

    app = Starlette(
        routes=[
            Route("/v1/traces", export, methods=["POST"]),
            Route("/api/traces", list_traces, methods=["GET"]),
            Route("/api/traces", forget, methods=["DELETE"]),
            Route("/api/traces/{trace_id}", one_trace, methods=["GET"]),
            Route("/api/spans", spans_since, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
    app.state.store = spans_store
    return app
