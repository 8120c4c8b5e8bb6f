"""Hostile input, in process: each finding of the schemathesis run, pinned by a fast test.

The schemathesis stage (test_schemathesis.py) finds such bugs against the real lab; these tests say
exactly what was wrong and keep it fixed in the poisoned code, where a unit test can reach it.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from services.billing.app import create_app as create_billing
from services.billing.schemas import UUID4_PATTERN
from services.billing.settings import BillingSettings
from services.catalog.app import create_app as create_catalog
from services.catalog.settings import CatalogSettings
from services.chain.app import create_app as create_chain
from services.chain.settings import ChainSettings
from services.kit.app import build_service_app
from services.kit.errors import PROBLEM_MEDIA_TYPE, ProblemDetails
from services.kit.settings import ServiceSettings
from services.orders.app import create_app as create_orders
from services.orders.settings import OrdersSettings

BEYOND_64_BITS = 2**64 + 1
# Not UTF-8, so not JSON: FastAPI answered it with an undocumented 400 before.
UNDECODABLE = b"7\xc3CC\x1d"


def assert_422(response: Any, loc: list[object] | None = None) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    ProblemDetails.model_validate(body)
    assert body["error_code"] == "validation_error"
    if loc is not None:
        assert loc in [error["loc"] for error in body["errors"]], body["errors"]
    return dict(body)


@pytest.fixture
def orders(tmp_path: Path) -> Iterator[TestClient]:
    settings = OrdersSettings(
        database_url=f"sqlite:///{tmp_path / 'orders.db'}",
        seed_data=False,
        catalog_url="http://127.0.0.1:9",
    )
    with TestClient(create_orders(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    ("user_ids", "loc"),
    [
        ([BEYOND_64_BITS], ["body", "user_ids", 0]),
        ([-BEYOND_64_BITS], ["body", "user_ids", 0]),
        ([2**31], ["body", "user_ids", 0]),
        ([-(2**31) - 1], ["body", "user_ids", 0]),
        ([False], ["body", "user_ids", 0]),
        ([1, True], ["body", "user_ids", 1]),
        (["7"], ["body", "user_ids", 0]),
        ([7.0], ["body", "user_ids", 0]),
    ],
    ids=[
        "beyond-64-bits",
        "below-64-bits",
        "2**31",
        "below-2**31",
        "false",
        "true",
        "string",
        "float",
    ],
)
def test_a_batch_takes_only_json_integers_a_database_can_hold(
    orders: TestClient, user_ids: list[object], loc: list[object]
) -> None:
    assert_422(orders.post("/v1/orders/batch", json={"user_ids": user_ids}), loc)


def test_the_widest_ids_are_unknown_users_not_errors(orders: TestClient) -> None:
    batch = orders.post("/v1/orders/batch", json={"user_ids": [2**31 - 1, -(2**31), 0]})

    assert batch.status_code == 200, batch.text
    assert batch.json() == {"users": []}
    assert orders.get(f"/v1/users/{2**31 - 1}/orders").status_code == 404


def test_a_user_id_beyond_64_bits_in_the_path_is_422(orders: TestClient) -> None:
    assert_422(orders.get(f"/v1/users/{BEYOND_64_BITS}/orders"), ["path", "user_id"])


def test_the_openapi_states_the_id_range(orders: TestClient) -> None:
    document = orders.get("/openapi.json").json()
    batch_ids = document["components"]["schemas"]["BatchIn"]["properties"]["user_ids"]["items"]
    (path_id,) = (
        p
        for p in document["paths"]["/v1/users/{user_id}/orders"]["get"]["parameters"]
        if p["name"] == "user_id"
    )

    for schema in (batch_ids, path_id["schema"]):
        assert (schema["type"], schema["minimum"], schema["maximum"]) == (
            "integer",
            -(2**31),
            2**31 - 1,
        )


def test_a_body_that_is_not_utf8_is_a_422_problem_not_an_undocumented_400(
    orders: TestClient,
) -> None:
    response = orders.post(
        "/v1/orders/batch", content=UNDECODABLE, headers={"Content-Type": "application/json"}
    )

    body = assert_422(response, ["body"])
    assert body["errors"][0]["type"] == "json_invalid"


class Widget(BaseModel):
    name: str


def kit_app() -> FastAPI:
    router = APIRouter(prefix="/v1")

    @router.post("/widgets", responses={409: {}})
    def create(widget: Widget) -> Widget:
        return widget

    return build_service_app(
        ServiceSettings(service_name="widget"),
        title="Widget",
        description="test app",
        routers=[router],
        readiness={},
    )


def test_every_documented_error_is_problem_json_and_readyz_documents_its_503() -> None:
    document = TestClient(kit_app()).get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    errors = {
        (path, method, status): response.get("content")
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if int(status) >= 400
    }

    assert set(errors) == {
        ("/readyz", "get", "503"),
        ("/v1/widgets", "post", "409"),
        ("/v1/widgets", "post", "422"),
    }
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert all(content == problem for content in errors.values())
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == set(ProblemDetails.model_fields)


def test_options_on_the_catalog_batch_names_post_in_allow() -> None:
    with TestClient(create_catalog(CatalogSettings(catalog_latency_ms=0))) as client:
        options = client.options("/v1/products/batch")
        # Still a product lookup: "batch" is a SKU the catalog does not have.
        get = client.get("/v1/products/batch")

    assert options.status_code == 405
    assert options.headers["allow"] == "POST"
    assert options.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert get.status_code == 404
    assert get.json()["error_code"] == "unknown_sku"


@pytest.mark.parametrize("qty", [True, "2", 2.0], ids=["true", "string", "float"])
def test_a_chain_quantity_is_a_json_integer(qty: object) -> None:
    settings = ChainSettings(service_name="service-a", service_b_url="http://127.0.0.1:9")
    body = {"customer_id": str(uuid.uuid4()), "items": [{"sku": "SKU-MUG", "qty": qty}]}
    with TestClient(create_chain(settings)) as client:
        assert_422(client.post("/v1/quote", json=body), ["body", "items", 0, "qty"])


@pytest.fixture
def billing(tmp_path: Path) -> Iterator[TestClient]:
    settings = BillingSettings(
        database_url=f"sqlite:///{tmp_path / 'billing.db'}",
        seed_history=False,
        reconcile_interval_ms=3_600_000,
    )
    with TestClient(create_billing(settings)) as client:
        yield client


@pytest.mark.parametrize(
    "user_id",
    [
        "{6f9619ff-8b86-4d11-b42d-00c04fc964ff}",
        "urn:uuid:6f9619ff-8b86-4d11-b42d-00c04fc964ff",
        "6f9619ff8b864d11b42d00c04fc964ff",
        str(uuid.uuid1()),
    ],
    ids=["braces", "urn", "bare-hex", "version-1"],
)
def test_a_billing_user_id_is_a_uuid4_written_as_documented(
    billing: TestClient, user_id: str
) -> None:
    reader = {"Authorization": "Bearer drill-lab-reader"}
    writer = {"Authorization": "Bearer drill-lab-writer"}
    body = {"user_id": user_id, "action": "create", "amount": "1.00", "request_id": "r-1"}

    assert_422(billing.get(f"/v1/users/{user_id}/balance", headers=reader))
    assert_422(billing.post("/v1/transactions", json=body, headers=writer), ["body", "user_id"])
    upper = str(uuid.uuid4()).upper()
    assert billing.get(f"/v1/users/{upper}/balance", headers=reader).status_code == 200


def test_billing_documents_its_user_ids_in_a_format_testers_know(billing: TestClient) -> None:
    document = billing.get("/openapi.json").json()
    body_id = document["components"]["schemas"]["TransactionIn"]["properties"]["user_id"]
    (path_id,) = document["paths"]["/v1/users/{user_id}/balance"]["get"]["parameters"]

    for schema in (body_id, path_id["schema"]):
        assert schema["format"] == "uuid"
        assert schema["pattern"] == UUID4_PATTERN
