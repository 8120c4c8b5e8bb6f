"""Traces proven end to end on the running local lab (`drill up --traces`): the services export
over OTLP/HTTP, configured by the standard OTEL_* variables alone, to the receiver of
drill/traces, a real server decoding OTLP protobuf.

One request is one trace: a quote crosses service-a, -b, -c and comes back to service-a with
every hop linked to its caller; a batch on orders holds its statements and catalog calls, as many
as /metrics counts; the trace_id of the response body, of the log lines and of the latency
exemplar is the trace's. Work outside a request (start-up, seeding, probes) makes no trace; the
reconciliation job makes one per run. These tests fail when propagation or the exporter settings
break: a callee's spans land in traces of their own, or no span arrives at all.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from drill import lab as lab_processes
from drill.services import SERVICES
from drill.traces import client
from drill.traces.settings import RECEIVER
from drill.traces.spans import Span
from services.orders.seed import seed_data
from tests.conftest import copy_tree, drill

pytestmark = pytest.mark.slow

# Spans leave a service within 0.1 s of ending; the first reconciliation run is the only one
# (started with billing), so nothing but the tests' requests reaches the receiver afterwards.
LAB_ENV = {"OTEL_BSP_SCHEDULE_DELAY": "100", "RECONCILE_INTERVAL_MS": "3600000"}
# How long to wait for spans on a busy machine: a deadline for arrival, not a latency check.
WAIT_S = 90.0
CHAIN = ("service-a", "service-b", "service-c")
READER = {"Authorization": "Bearer drill-lab-reader"}
WRITER = {"Authorization": "Bearer drill-lab-writer"}
OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}
LATENCY = "http_server_request_duration_seconds"
T = TypeVar("T")


@pytest.fixture(autouse=True)
def untraced_test_client() -> Iterator[None]:
    """The tests' own requests carry no trace context. In-process app tests earlier in the same
    pytest run set up the kit's tracer provider, which instruments httpx process-wide: the tests'
    requests would then send a traceparent of an unexported test-process span, and every trace
    under test would hang from a parent that never arrives."""
    with suppress_instrumentation():
        yield


@pytest.fixture(scope="module")
def traced_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One local lab with its trace receiver for the module, from its own tree copy."""
    tree = copy_tree(tmp_path_factory.mktemp("traced-lab"))
    started = drill(tree, "up", "--mode", "local", "--traces", env=LAB_ENV)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield tree
    finally:
        drill(tree, "down")


@pytest.fixture
def receiver(traced_lab: Path) -> str:
    """The receiver's URL, as the lab recorded it."""
    return lab_processes.read_state(traced_lab)[RECEIVER].url


def wait_for(probe: Callable[[], T | None], what: str | Callable[[], str]) -> T:
    """probe()'s first answer that is not None, polling until WAIT_S; fails naming `what` (a
    callable is asked at the end, to say what had arrived by then)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = probe()
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT_S:.0f} s for {what if isinstance(what, str) else what()}")
        time.sleep(0.2)


def held(receiver: str, trace_id: str) -> str:
    """What the receiver holds of a trace, in a few words per span."""
    spans = Counter(f"{s.service} {s.kind} {s.name}" for s in client.trace(receiver, trace_id))
    return ", ".join(f"{count} x {what}" for what, count in spans.items()) or "nothing"


def url_of(service: str) -> str:
    return SERVICES[service].url


def log_lines(tree: Path, service: str) -> list[dict[str, object]]:
    text = (tree / ".drill" / "logs" / f"{service}.log").read_text()
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def scrape(service: str) -> list[Metric]:
    """The service's /metrics in OpenMetrics, the format that carries exemplars."""
    text = httpx.get(f"{url_of(service)}/metrics", headers=OPENMETRICS, timeout=10).text
    return list(text_string_to_metric_families(text))  # type: ignore[no-untyped-call]


def buckets(service: str, route: str, status: str = "200") -> dict[float, tuple[float, str | None]]:
    """The latency histogram's buckets for one route: upper bound -> (count, exemplar trace_id)."""
    found: dict[float, tuple[float, str | None]] = {}
    for family in scrape(service):
        for sample in family.samples:
            labels = sample.labels
            if sample.name != f"{LATENCY}_bucket" or labels.get("route") != route:
                continue
            if labels.get("status") != status:
                continue
            exemplar = sample.exemplar.labels.get("trace_id") if sample.exemplar else None
            found[float(labels["le"])] = (sample.value, exemplar)
    return found


def observed_exemplar(
    before: dict[float, tuple[float, str | None]], after: dict[float, tuple[float, str | None]]
) -> str | None:
    """The exemplar of the bucket the one new observation fell in (the first whose count grew)."""
    for bound in sorted(after):
        if after[bound][0] > before.get(bound, (0.0, None))[0]:
            return after[bound][1]
    raise AssertionError(f"no bucket counted a new request: {before} -> {after}")


def histogram_sum(service: str, name: str, route: str) -> float:
    for family in scrape(service):
        for sample in family.samples:
            if sample.name == f"{name}_sum" and sample.labels.get("route") == route:
                return float(sample.value)
    return 0.0


def statement_of(span: Span) -> str | None:
    """The SQL of a database span (either generation of the semantic conventions)."""
    value = span.attributes.get("db.query.text", span.attributes.get("db.statement"))
    return str(value) if value is not None else None


def is_http_call(span: Span) -> bool:
    return span.kind == "client" and (
        "url.full" in span.attributes or "http.url" in span.attributes
    )


def linked(spans: list[Span]) -> bool:
    """One root, and every other span's parent is in the trace."""
    ids = {span.span_id for span in spans}
    roots = [span for span in spans if span.parent_span_id is None]
    orphans = [span for span in spans if span.parent_span_id and span.parent_span_id not in ids]
    return len(roots) == 1 and not orphans


def owner(span: Span, by_id: dict[str, Span]) -> Span:
    """The server span of the request inside which `span` ran (itself, for a server span)."""
    while span.kind != "server":
        assert span.parent_span_id is not None, f"{span.name} ({span.service}) has no server span"
        span = by_id[span.parent_span_id]
    return span


def strays(receiver: str, mark: int, services: tuple[str, ...], trace_ids: set[str]) -> list[Span]:
    """Spans of these services received after `mark` that belong to none of the traces."""
    return [
        span
        for span in client.since(receiver, mark)
        if span.service in services and span.trace_id not in trace_ids
    ]


def quote(customer: uuid.UUID | None = None) -> str:
    """Ask service-a for a quote; return the trace_id of its answer."""
    body = {"customer_id": str(customer or uuid.uuid4()), "items": [{"sku": "SKU-BAGEL", "qty": 2}]}
    response = httpx.post(f"{url_of('service-a')}/v1/quote", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["trace_id"])


# The quote's hops on the committed (poisoned) code: (caller, callee, the callee's route).
QUOTE_HOPS = [
    ("service-a", "service-b", "POST /v1/prices"),
    ("service-b", "service-c", "POST /v1/discounts"),
    ("service-c", "service-a", "GET /v1/customers/{customer_id}/tier"),
]


def whole_quote(receiver: str, trace_id: str) -> list[Span]:
    """The quote's trace, once its four requests have all arrived, linked."""

    def arrived() -> list[Span] | None:
        spans = client.trace(receiver, trace_id)
        servers = [span for span in spans if span.kind == "server"]
        return spans if len(servers) == len(QUOTE_HOPS) + 1 and linked(spans) else None

    return wait_for(
        arrived,
        lambda: (
            f"the quote's trace {trace_id} to hold one linked server span per request "
            f"(it holds: {held(receiver, trace_id)})"
        ),
    )


def test_start_up_seeding_and_probes_make_no_trace(traced_lab: Path, receiver: str) -> None:
    # The first reconciliation run is one trace, its statements inside.
    def runs_done() -> list[list[Span]] | None:
        held = client.traces(receiver, limit=1000)
        return held if held and all(linked(spans) for spans in held) else None

    held = wait_for(runs_done, "the first reconciliation run's trace")
    not_requests = [spans for spans in held if not any(s.kind == "server" for s in spans)]
    assert len(not_requests) == 1, [[(s.service, s.name) for s in t] for t in not_requests]
    run = not_requests[0]
    root = next(span for span in run if span.parent_span_id is None)
    assert (root.service, root.name, root.kind) == ("billing", "reconcile ledger", "internal")
    statements = [span for span in run if statement_of(span)]
    assert statements and all(span.service == "billing" for span in run)
    # Readiness probes: their statements and calls make no spans. The requests after them are
    # sentinels: a service exports its spans in the order they end, so once a sentinel's spans
    # have arrived, any span a probe had made would have arrived before them.
    mark = client.received(receiver)
    for service in SERVICES:
        for _ in range(3):
            assert httpx.get(f"{url_of(service)}/readyz", timeout=30).status_code == 200
    sentinels = {quote()}
    orders = httpx.get(f"{url_of('orders')}/v1/users/{seed_data().with_orders[0]}/orders?limit=1")
    balance = httpx.get(f"{url_of('billing')}/v1/users/{uuid.uuid4()}/balance", headers=READER)
    assert orders.status_code == balance.status_code == 200
    whole_quote(receiver, next(iter(sentinels)))

    def sentinels_arrived() -> set[str] | None:
        spans = client.since(receiver, mark)
        roots = {(s.service, s.name): s.trace_id for s in spans if s.parent_span_id is None}
        wanted = [
            ("orders", "GET /v1/users/{user_id}/orders"),
            ("billing", "GET /v1/users/{user_id}/balance"),
        ]
        if not all(key in roots for key in wanted):
            return None
        return {roots[key] for key in wanted}

    sentinels |= wait_for(sentinels_arrived, "the sentinel requests' spans")
    assert strays(receiver, mark, tuple(SERVICES), sentinels) == []


def test_a_quote_is_one_trace_through_the_chain_and_back_to_service_a(
    traced_lab: Path, receiver: str
) -> None:
    routes = {
        "service-a": ["/v1/quote", "/v1/customers/{customer_id}/tier"],
        "service-b": ["/v1/prices"],
        "service-c": ["/v1/discounts"],
    }
    before = {(s, r): buckets(s, r) for s, rs in routes.items() for r in rs}
    logged = {service: len(log_lines(traced_lab, service)) for service in CHAIN}
    mark = client.received(receiver)

    trace_id = quote()
    spans = whole_quote(receiver, trace_id)

    # Exactly one trace: no span of the chain landed anywhere else.
    assert strays(receiver, mark, CHAIN, {trace_id}) == []
    by_id = {span.span_id: span for span in spans}
    root = next(span for span in spans if span.parent_span_id is None)
    assert (root.service, root.kind, root.name) == ("service-a", "server", "POST /v1/quote")
    hops = []
    for server in spans:
        if server.kind != "server" or server is root:
            continue
        assert server.parent_span_id is not None
        call = by_id[server.parent_span_id]
        assert call.kind == "client", f"{server.name} is not the child of a call"
        # The call was made inside the caller's request.
        caller = owner(call, by_id)
        assert caller.service == call.service
        hops.append((call.service, server.service, server.name))
    assert sorted(hops) == sorted(QUOTE_HOPS)
    # Every log line of the request, in every service it crossed, names the trace and a span
    # of it from that service.
    for service in CHAIN:
        lines = log_lines(traced_lab, service)[logged[service] :]
        assert lines, f"{service} logged nothing for the quote"
        for line in lines:
            assert line["trace_id"] == trace_id, (service, line)
            assert by_id[str(line["span_id"])].service == service, (service, line)
    # Each hop's latency observation carries the trace as its exemplar.
    for (service, route), earlier in before.items():
        assert observed_exemplar(earlier, buckets(service, route)) == trace_id, (service, route)


def test_a_batch_on_orders_is_one_trace_with_its_statements_and_catalog_calls(
    traced_lab: Path, receiver: str
) -> None:
    route = "/v1/orders/batch"
    users = list(seed_data().with_orders[:3])
    latency_before = buckets("orders", route)
    catalog_before = buckets("catalog", "/v1/products/{sku}")
    queries_before = histogram_sum("orders", "orders_db_queries_per_request", route)
    rows_before = histogram_sum("orders", "orders_db_rows_per_request", route)
    calls_before = histogram_sum("orders", "orders_catalog_calls_per_request", route)
    logged = len(log_lines(traced_lab, "orders"))
    mark = client.received(receiver)

    response = httpx.post(f"{url_of('orders')}{route}", json={"user_ids": users}, timeout=60)

    assert response.status_code == 200, response.text
    queries = histogram_sum("orders", "orders_db_queries_per_request", route) - queries_before
    rows = histogram_sum("orders", "orders_db_rows_per_request", route) - rows_before
    calls = histogram_sum("orders", "orders_catalog_calls_per_request", route) - calls_before
    assert queries > 0 and rows > 0 and calls > 0
    lines = log_lines(traced_lab, "orders")[logged:]
    work = [line for line in lines if line["message"] == "request work"]
    assert len(work) == 1
    trace_id = str(work[0]["trace_id"])
    assert work[0]["context"] == {
        "route": route,
        "db_queries": queries,
        "db_rows": rows,
        "catalog_calls": calls,
    }

    def arrived() -> list[Span] | None:
        spans = client.trace(receiver, trace_id)
        served = [s for s in spans if s.service == "catalog" and s.kind == "server"]
        root = [s for s in spans if s.parent_span_id is None]
        return spans if root and len(served) >= calls and linked(spans) else None

    spans = wait_for(
        arrived,
        lambda: (
            f"the batch's trace {trace_id} with {calls:g} catalog requests, linked (it "
            f"holds: {held(receiver, trace_id)})"
        ),
    )

    assert strays(receiver, mark, ("orders", "catalog"), {trace_id}) == []
    by_id = {span.span_id: span for span in spans}
    root = next(span for span in spans if span.parent_span_id is None)
    assert (root.service, root.kind, root.name) == ("orders", "server", f"POST {route}")
    # What orders counts: every statement but the kit's BEGIN (SQLite's transaction control).
    statements = [
        span
        for span in spans
        if statement_of(span) and not str(statement_of(span)).lstrip().upper().startswith("BEGIN")
    ]
    catalog_calls = [span for span in spans if span.service == "orders" and is_http_call(span)]
    catalog_served = [span for span in spans if span.service == "catalog"]
    assert len(statements) == queries
    assert all(owner(span, by_id) is root for span in statements)
    assert len(catalog_calls) == calls
    assert all(owner(span, by_id) is root for span in catalog_calls)
    assert sorted(by_id[str(s.parent_span_id)].span_id for s in catalog_served) == sorted(
        s.span_id for s in catalog_calls
    )
    for line in lines:
        assert line["trace_id"] == trace_id, line
        assert str(line["span_id"]) in by_id, line
    assert observed_exemplar(latency_before, buckets("orders", route)) == trace_id
    assert observed_exemplar(catalog_before, buckets("catalog", "/v1/products/{sku}")) == trace_id


def test_a_charge_and_an_error_answer_with_their_trace_id(traced_lab: Path, receiver: str) -> None:
    user = str(uuid.uuid4())
    charge = {
        "user_id": user,
        "action": "create",
        "amount": "12.30",
        "metadata": {"invoice": "INV-T"},
        "request_id": str(uuid.uuid4()),
    }
    before = buckets("billing", "/v1/transactions")

    charged = httpx.post(f"{url_of('billing')}/v1/transactions", json=charge, headers=WRITER)
    unknown = httpx.get(f"{url_of('orders')}/v1/users/987654321/orders")

    assert charged.status_code == 200 and unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    for body, service, route in (
        (charged.json(), "billing", "POST /v1/transactions"),
        (unknown.json(), "orders", "GET /v1/users/{user_id}/orders"),
    ):
        trace_id = str(body["trace_id"])

        def arrived(trace_id: str = trace_id) -> list[Span] | None:
            spans = client.trace(receiver, trace_id)
            return spans if spans and linked(spans) else None

        spans = wait_for(arrived, f"the trace {trace_id} of {route}")
        root = next(span for span in spans if span.parent_span_id is None)
        assert (root.service, root.kind, root.name) == (service, "server", route)
        assert any(statement_of(span) for span in spans)
    assert (
        observed_exemplar(before, buckets("billing", "/v1/transactions"))
        == charged.json()["trace_id"]
    )


def test_drill_traces_prints_a_quote_as_an_indented_tree(traced_lab: Path, receiver: str) -> None:
    trace_id = quote()
    whole_quote(receiver, trace_id)

    printed = drill(traced_lab, "traces", "--trace", trace_id)
    latest = drill(traced_lab, "traces", "-n", "1", "--service", "service-c")

    assert printed.returncode == 0, printed.stdout + printed.stderr
    lines = printed.stdout.splitlines()
    assert trace_id in lines[0]
    tree = [
        ((len(line) - len(line.lstrip())) // 2, line.split()[0], line.split("[")[1].split("]")[0])
        for line in lines[1:]
        if line.strip()
    ]
    assert tree == [
        (1, "service-a", "server"),
        (2, "service-a", "client"),
        (3, "service-b", "server"),
        (4, "service-b", "client"),
        (5, "service-c", "server"),
        (6, "service-c", "client"),
        (7, "service-a", "server"),
    ]
    assert latest.returncode == 0 and trace_id in latest.stdout.splitlines()[0]


def test_a_restarted_service_still_sends_its_spans(traced_lab: Path, receiver: str) -> None:
    # As a grader or `drill solve` does, from a process of its own whose environment names no
    # receiver: the new service-c learns it from the lab's state.
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    restart = (
        "import sys, pathlib, drill.lab; "
        "drill.lab.restart(pathlib.Path(sys.argv[1]), ['service-c'])"
    )
    restarted = subprocess.run(
        [sys.executable, "-c", restart, str(traced_lab)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    mark = client.received(receiver)

    trace_id = quote()

    spans = whole_quote(receiver, trace_id)
    assert {span.service for span in spans} == set(CHAIN)
    assert strays(receiver, mark, CHAIN, {trace_id}) == []
