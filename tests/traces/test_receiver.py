"""The trace receiver as a real process: spans sent by the OpenTelemetry SDK's own OTLP/HTTP
exporter arrive whole (ids, parent links, kinds, service, attributes, status), compressed or not;
what is not OTLP protobuf is refused; `drill traces`' tree shows them."""

import gzip
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from drill.traces import client
from drill.traces.spans import Span
from drill.traces.store import TraceStore
from drill.traces.tree import render


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    """`python -m drill.traces` on a free port, stopped (by its pid) at the end."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "drill.traces", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the receiver did not answer /healthz"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def exporting_provider(url: str, service: str, compression: Compression) -> TracerProvider:
    """A tracer provider of its own (not the global one) that exports each span as it ends."""
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", compression=compression)
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.mark.parametrize("compression", list(Compression))
def test_spans_the_sdk_exports_arrive_with_their_links(
    receiver: str, compression: Compression
) -> None:
    provider = exporting_provider(receiver, f"probe-{compression.value}", compression)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("GET /things", kind=trace.SpanKind.SERVER) as root:
        root.set_attribute("http.response.status_code", 200)
        with tracer.start_as_current_span("GET", kind=trace.SpanKind.CLIENT) as call:
            call.set_attributes(
                {"url.full": "http://x/y", "retry": 2, "ratio": 0.5, "ok": True, "tags": ["a", "b"]}
            )
            call.set_status(trace.Status(trace.StatusCode.ERROR, "upstream timed out"))
    provider.shutdown()
    trace_id = format(root.get_span_context().trace_id, "032x")

    spans = {span.name: span for span in client.trace(receiver, trace_id)}

    assert set(spans) == {"GET /things", "GET"}
    server, caller = spans["GET /things"], spans["GET"]
    assert server.parent_span_id is None
    assert server.span_id == format(root.get_span_context().span_id, "016x")
    assert caller.parent_span_id == server.span_id
    assert (server.kind, caller.kind) == ("server", "client")
    assert {server.service, caller.service} == {f"probe-{compression.value}"}
    assert caller.attributes == {
        "url.full": "http://x/y",
        "retry": 2,
        "ratio": 0.5,
        "ok": True,
        "tags": ["a", "b"],
    }
    assert (caller.status, caller.status_message) == ("error", "upstream timed out")
    assert server.attributes["http.response.status_code"] == 200
    assert 0 < server.start_ns <= caller.start_ns <= caller.end_ns <= server.end_ns
    # The newest trace is listed first, and can be asked for by service.
    latest = client.traces(receiver, limit=1, service=f"probe-{compression.value}")
    assert [s.trace_id for s in latest[0]] == [trace_id, trace_id]


def test_what_is_not_otlp_protobuf_is_refused(receiver: str) -> None:
    before = client.received(receiver)
    as_json = httpx.post(f"{receiver}/v1/traces", json={"resourceSpans": []})
    garbage = httpx.post(
        f"{receiver}/v1/traces",
        content=b"\xff\x00 not a protobuf",
        headers={"content-type": "application/x-protobuf"},
    )
    bad_gzip = httpx.post(
        f"{receiver}/v1/traces",
        content=b"not gzip",
        headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
    )
    zipped_garbage = httpx.post(
        f"{receiver}/v1/traces",
        content=gzip.compress(b"\xff\x00 not a protobuf"),
        headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
    )

    assert as_json.status_code == 415
    assert "http/protobuf" in as_json.text
    assert (garbage.status_code, bad_gzip.status_code, zipped_garbage.status_code) == (400,) * 3
    assert client.received(receiver) == before


def span(name: str, span_id: str, parent: str | None, service: str, **extra: object) -> Span:
    start = 1_700_000_000_000_000_000 + int(span_id, 16) * 1_000_000
    return Span(
        trace_id="ab" * 16,
        span_id=span_id.rjust(16, "0"),
        parent_span_id=parent.rjust(16, "0") if parent else None,
        name=name,
        kind=str(extra.pop("kind", "server")),
        service=service,
        start_ns=start,
        end_ns=start + 2_000_000,
        attributes=dict(extra),  # type: ignore[arg-type]
    )


def test_the_tree_indents_children_and_counts_alike_siblings() -> None:
    select = "SELECT order_lines.id, order_lines.sku FROM order_lines WHERE order_id = %(id)s"
    spans = [
        span("POST /v1/orders/batch", "1", None, "orders", **{"http.response.status_code": 200}),
        *(
            span("SELECT drill", f"{n}", "1", "orders", kind="client", **{"db.statement": select})
            for n in (2, 3, 4)
        ),
        span("GET", "5", "1", "orders", kind="client", **{"url.full": "http://c/v1/products/A"}),
        span("GET /v1/products/{sku}", "6", "5", "catalog"),
        span("GET", "7", "1", "orders", kind="client", **{"url.full": "http://c/v1/products/B"}),
        span("GET /v1/products/{sku}", "8", "7", "catalog"),
        span("late", "9", "f00", "orders", kind="internal"),
    ]

    short = render(spans)
    full = render(spans, full=True)

    assert short[0].split()[1:4] == ["trace", "ab" * 16, "9"]
    assert [line[: len(line) - len(line.lstrip())].count("  ") for line in short[1:]] == [
        1,
        2,
        2,
        3,
        1,
    ]
    assert "x 3" in short[2] and select in short[2]
    assert "GET http://c/v1/products/…" in short[3] and "x 2" in short[3]
    assert "catalog" in short[4] and "x 2" in short[4]
    assert short[5].endswith("(parent span not received)")
    assert len(full) == 1 + len(spans)
    assert not any(" x " in line for line in full)


def test_the_store_keeps_the_newest_traces_and_numbers_spans_in_arrival_order() -> None:
    store = TraceStore(max_spans=4)
    one_span_traces = [
        replace(span(f"s{n}", f"{n}", None, "svc"), trace_id=f"{n:032x}") for n in range(1, 6)
    ]
    store.add(one_span_traces[:3])
    store.add(one_span_traces[3:])

    assert store.stats() == {"spans": 4, "traces": 4, "received": 5, "dropped": 1}
    assert store.trace(f"{1:032x}") is None
    assert [t[0].name for t in store.traces(limit=2)] == ["s5", "s4"]
    assert [s.seq for s in store.since(3, limit=10)] == [4, 5]
    assert [s.seq for s in store.since(0, limit=2)] == [2, 3]
