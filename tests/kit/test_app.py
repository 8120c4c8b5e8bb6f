"""The kit's app factory: health, readiness, metrics and problem+json on every error path."""

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from services.kit.app import build_service_app
from services.kit.errors import Problem
from services.kit.logging import JsonFormatter
from services.kit.settings import ServiceSettings


class Item(BaseModel):
    name: str
    qty: int


def make_client(readiness_ok: bool = True) -> TestClient:
    router = APIRouter(prefix="/v1")

    @router.post("/items/{item_id}")
    def create(item_id: int, item: Item) -> Item:
        if item_id == 409:
            raise Problem(409, "item_exists", "Item exists", "try another id")
        if item_id == 500:
            raise RuntimeError("boom")
        if item_id == 503:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
        return item

    def check() -> None:
        if not readiness_ok:
            raise ConnectionError("database down")

    app = build_service_app(
        ServiceSettings(service_name="widget"),
        title="Widget",
        description="test app",
        routers=[router],
        readiness={"database": check},
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with make_client() as test_client:
        yield test_client


def assert_problem(
    response: Any, status: int, error_code: str, *, traced: bool = True
) -> dict[str, Any]:
    """Assert the response is an RFC 9457 problem with our extension members; return its body."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["error_code"] == error_code
    if traced:
        assert isinstance(body["trace_id"], str) and len(body["trace_id"]) == 32
    else:  # probes are not traced, on purpose: they would drown the traces that matter
        assert body["trace_id"] is None
    assert body["type"] == f"urn:drill-lab:problem:{error_code}"
    return dict(body)


def test_healthz_and_readyz_answer_when_dependencies_do(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "service": "widget"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}


def test_readyz_is_a_503_problem_naming_the_failed_dependency() -> None:
    with make_client(readiness_ok=False) as client:
        body = assert_problem(client.get("/readyz"), 503, "not_ready", traced=False)
    assert body["checks"] == {"database": "failed: ConnectionError: database down"}


def test_a_raised_problem_keeps_its_status_code_and_detail(client: TestClient) -> None:
    body = assert_problem(
        client.post("/v1/items/409", json={"name": "a", "qty": 1}), 409, "item_exists"
    )
    assert body["detail"] == "try another id"
    assert body["instance"] == "/v1/items/409"


def test_validation_errors_are_422_problems_listing_each_field(client: TestClient) -> None:
    response = client.post("/v1/items/1", json={"name": "a", "qty": "many"})
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"] == [
        {
            "loc": ["body", "qty"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "type": "int_parsing",
        }
    ]


def test_unknown_route_and_wrong_method_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/nowhere"), 404, "not_found")
    assert_problem(client.get("/v1/items/1"), 405, "method_not_allowed")


def test_unhandled_exception_is_a_500_problem_and_the_connection_survives(
    client: TestClient,
) -> None:
    assert_problem(
        client.post("/v1/items/500", json={"name": "a", "qty": 1}), 500, "internal_error"
    )
    assert client.get("/healthz").status_code == 200


def test_unreachable_database_is_503_with_retry_after(client: TestClient) -> None:
    response = client.post("/v1/items/503", json={"name": "a", "qty": 1})
    assert_problem(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "5"


def metric_samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_requests_by_route_template_and_errors_by_code(client: TestClient) -> None:
    client.post("/v1/items/1", json={"name": "a", "qty": 1})
    client.post("/v1/items/2", json={"name": "b", "qty": 2})
    client.post("/v1/items/409", json={"name": "c", "qty": 3})

    samples = metric_samples(client)

    ok = (
        ("method", "POST"),
        ("route", "/v1/items/{item_id}"),
        ("service", "widget"),
        ("status", "200"),
    )
    assert samples[("http_server_request_duration_seconds_count", ok)] == 2
    conflict = (*ok[:3], ("status", "409"))
    assert samples[("http_server_request_duration_seconds_count", conflict)] == 1
    assert (
        samples[("service_errors_total", (("error_code", "item_exists"), ("service", "widget")))]
        == 1
    )
    assert samples[("http_server_requests_in_flight", (("service", "widget"),))] == 1  # the scrape


def test_latency_buckets_include_the_slo_boundaries(client: TestClient) -> None:
    client.get("/healthz")
    buckets = {
        dict(labels)["le"]
        for (name, labels) in metric_samples(client)
        if name == "http_server_request_duration_seconds_bucket"
    }
    assert {"0.05", "0.1", "0.2", "0.5", "1.0", "2.0", "5.0"} <= buckets


def test_openmetrics_scrape_carries_trace_exemplars(client: TestClient) -> None:
    client.post("/v1/items/1", json={"name": "a", "qty": 1})
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert '# {trace_id="' in response.text


def test_json_log_lines_carry_the_contracted_keys_inside_a_span() -> None:
    from opentelemetry import trace

    from services.kit.telemetry import tracer_provider

    formatter = JsonFormatter("widget")
    tracer = tracer_provider("widget").get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        record = logging.LogRecord(
            "x", logging.WARNING, __file__, 1, "charged %s", ("twice",), None
        )
        record.error_code = "double_charge"
        record.context = {"user_id": "u1"}
        line = json.loads(formatter.format(record))
        expected_trace = format(span.get_span_context().trace_id, "032x")
    assert set(line) >= {
        "timestamp",
        "level",
        "service",
        "message",
        "trace_id",
        "span_id",
        "error_code",
        "context",
    }
    assert line["message"] == "charged twice"
    assert line["trace_id"] == expected_trace
    assert line["error_code"] == "double_charge"
    assert line["context"] == {"user_id": "u1"}
    assert trace.get_current_span().get_span_context().is_valid is False
