"""The catalog: a deterministic product list, single and batch lookups, and its latency."""

import asyncio
import time
from decimal import Decimal

import httpx

from services.catalog.app import create_app
from services.catalog.products import CATALOG_SIZE, catalog, sku_of
from services.catalog.settings import CatalogSettings


def call(latency_ms: int, method: str, path: str, **kwargs: object) -> tuple[httpx.Response, float]:
    """One request to a fresh in-process catalog app: (response, seconds it took)."""
    app = create_app(CatalogSettings(catalog_latency_ms=latency_ms))

    async def send() -> tuple[httpx.Response, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
            start = time.perf_counter()
            response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
            return response, time.perf_counter() - start

    return asyncio.run(send())


def test_the_catalog_is_the_same_on_every_start_and_priced_in_whole_cents() -> None:
    products = catalog()

    assert len(products) == CATALOG_SIZE
    assert products[sku_of(1)].price == catalog.__wrapped__()[sku_of(1)].price
    assert all(p.price == p.price.quantize(Decimal("0.01")) > 0 for p in products.values())


def test_a_product_is_answered_with_its_price_as_a_decimal_string() -> None:
    response, _ = call(0, "GET", f"/v1/products/{sku_of(42)}")

    assert response.status_code == 200
    assert response.json()["price"] == f"{catalog()[sku_of(42)].price:.2f}"


def test_an_unknown_product_is_a_404_problem() -> None:
    response, _ = call(0, "GET", "/v1/products/SKU-NOPE")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["error_code"] == "unknown_sku"


def test_a_batch_answers_known_skus_once_each_and_lists_the_unknown() -> None:
    skus = [sku_of(1), sku_of(2), sku_of(1), "SKU-NOPE"]

    response, _ = call(0, "POST", "/v1/products/batch", json={"skus": skus})

    body = response.json()
    assert [p["sku"] for p in body["products"]] == [sku_of(1), sku_of(2)]
    assert body["missing"] == ["SKU-NOPE"]


def test_a_batch_over_500_skus_or_empty_is_422() -> None:
    too_many = [sku_of(n) for n in range(1, 502)]

    assert call(0, "POST", "/v1/products/batch", json={"skus": too_many})[0].status_code == 422
    assert call(0, "POST", "/v1/products/batch", json={"skus": []})[0].status_code == 422


def test_every_call_pays_the_configured_latency_once() -> None:
    _, single = call(80, "GET", f"/v1/products/{sku_of(7)}")
    skus = [sku_of(n) for n in range(1, 501)]
    _, batch = call(80, "POST", "/v1/products/batch", json={"skus": skus})

    assert single >= 0.080
    assert batch >= 0.080
