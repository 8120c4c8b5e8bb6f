"""service-a in process: the tier lookup, input validation and the pool size it publishes."""

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.chain.app import create_app
from services.chain.pricing import tier_of
from services.chain.settings import ChainSettings


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = ChainSettings(
        service_name="service-a", chain_max_concurrency=3, service_b_url="http://127.0.0.1:9"
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_tier_lookup_answers_the_customers_tier(client: TestClient) -> None:
    customer = uuid.uuid4()

    response = client.get(f"/v1/customers/{customer}/tier")

    assert response.status_code == 200
    assert response.json() == {"customer_id": str(customer), "tier": tier_of(customer)}


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": "42", "items": [{"sku": "SKU-MUG", "qty": 1}]},
        {"customer_id": str(uuid.uuid4()), "items": []},
        {"customer_id": str(uuid.uuid4()), "items": [{"sku": "SKU-MUG", "qty": 0}]},
    ],
)
def test_a_bad_quote_is_422_problem_json(client: TestClient, body: dict[str, object]) -> None:
    response = client.post("/v1/quote", json=body)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["error_code"] == "validation_error"


def test_metrics_publish_the_pool_size(client: TestClient) -> None:
    text = client.get("/metrics").text

    assert 'chain_workers_max{service="service-a"} 3.0' in text
    assert 'chain_workers_busy{service="service-a"} 0.0' in text


def test_readiness_fails_while_the_callee_is_down(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 503
    assert "service-b" in response.json()["checks"]


def test_an_unknown_service_name_is_refused() -> None:
    with pytest.raises(ValueError, match="SERVICE_NAME"):
        create_app(ChainSettings(service_name="service-z"))
