"""Spans as the receiver keeps them, decoded from OTLP protobuf (opentelemetry-proto's messages).

A span here is plain data (hex ids, the service that sent it, attributes as JSON values), so the
receiver can answer JSON, and `drill traces` and the tests can read it without protobuf.
"""

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

# JSON values: what an OTLP attribute value becomes.
Value = str | bool | int | float | list[Any] | dict[str, Any] | None

KINDS = {
    ProtoSpan.SPAN_KIND_UNSPECIFIED: "unspecified",
    ProtoSpan.SPAN_KIND_INTERNAL: "internal",
    ProtoSpan.SPAN_KIND_SERVER: "server",
    ProtoSpan.SPAN_KIND_CLIENT: "client",
    ProtoSpan.SPAN_KIND_PRODUCER: "producer",
    ProtoSpan.SPAN_KIND_CONSUMER: "consumer",
}
STATUSES = {
    Status.STATUS_CODE_UNSET: "unset",
    Status.STATUS_CODE_OK: "ok",
    Status.STATUS_CODE_ERROR: "error",
}
UNKNOWN_SERVICE = "unknown_service"


class BadPayload(ValueError):
    """The request body is not an OTLP ExportTraceServiceRequest."""


@dataclass(frozen=True)
class Span:
    """One finished span, as one service exported it."""

    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str | None  # None for a root span
    name: str
    kind: str  # server, client, internal, producer, consumer, unspecified
    service: str  # the resource's service.name
    start_ns: int  # Unix time, nanoseconds
    end_ns: int
    status: str = "unset"  # unset, ok, error
    status_message: str = ""
    attributes: dict[str, Value] = field(default_factory=dict)
    # The receiver's count of spans received when this one arrived (1 for the first): `since`.
    seq: int = 0

    @property
    def duration_ms(self) -> float:
        """How long the span lasted, in milliseconds."""
        return max(self.end_ns - self.start_ns, 0) / 1e6

    def as_json(self) -> dict[str, Any]:
        """The span as a JSON object (the receiver's API)."""
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Span":
        """The span from the receiver's JSON."""
        return cls(**raw)


def _value(value: AnyValue) -> Value:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return value.bool_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bytes_value":
        return value.bytes_value.hex()
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return None


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Value]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _hex_id(raw: bytes, size: int, what: str) -> str:
    if len(raw) != size or not any(raw):
        raise BadPayload(f"a span has an invalid {what} ({len(raw)} bytes, {size} expected)")
    return raw.hex()


def decode(body: bytes) -> list[Span]:
    """The spans of one OTLP/HTTP protobuf export request, in the order they were sent."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except Exception as exc:  # protobuf raises its DecodeError, or others on garbage
        raise BadPayload(f"not an OTLP ExportTraceServiceRequest: {exc}") from None
    return list(_spans(request))


def _spans(request: ExportTraceServiceRequest) -> Iterator[Span]:
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        service = str(resource.get("service.name") or UNKNOWN_SERVICE)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                parent = span.parent_span_id
                yield Span(
                    trace_id=_hex_id(span.trace_id, 16, "trace_id"),
                    span_id=_hex_id(span.span_id, 8, "span_id"),
                    parent_span_id=_hex_id(parent, 8, "parent_span_id") if parent else None,
                    name=span.name,
                    kind=KINDS.get(span.kind, "unspecified"),
                    service=service,
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    status=STATUSES.get(span.status.code, "unset"),
                    status_message=span.status.message,
                    attributes=_attributes(span.attributes),
                )
