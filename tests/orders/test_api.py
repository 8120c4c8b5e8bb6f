"""The orders API over HTTP, as the local lab runs it beside the catalog: poisoned and fixed
code give the same answers; only what they cost differs."""

from pathlib import Path

import httpx
import pytest

from drill.services import SERVICES
from services.orders.seed import seed_data
from tests.conftest import drill

pytestmark = pytest.mark.slow


def answers(url: str) -> dict[str, object]:
    """A batch, two pages and the error cases, as the service answers them."""
    data = seed_data()
    reseller, buyer, idle = data.resellers[0], data.with_orders[0], data.without_orders[0]
    with httpx.Client(base_url=url, timeout=30) as client:
        batch = client.post("/v1/orders/batch", json={"user_ids": [buyer, idle, reseller, 10**6]})
        first = client.get(f"/v1/users/{reseller}/orders", params={"limit": 3}).json()
        cursor = first["next_cursor"]
        second = client.get(f"/v1/users/{reseller}/orders", params={"limit": 3, "cursor": cursor})
        return {
            "batch": batch.json(),
            "pages": [first, second.json()],
            "unknown user": client.get("/v1/users/1000000/orders").status_code,
            "no ids": client.post("/v1/orders/batch", json={"user_ids": []}).status_code,
            "bad limit": client.get(f"/v1/users/{buyer}/orders?limit=0").status_code,
        }


def test_batches_and_pages_show_recent_orders_priced_in_decimal_strings(lab: Path) -> None:
    data = seed_data()
    got = answers(SERVICES["orders"].url)

    users = got["batch"]["users"]  # type: ignore[index]
    assert [u["user_id"] for u in users] == [
        data.with_orders[0],
        data.without_orders[0],
        data.resellers[0],
    ]
    assert users[1]["orders"] == []
    newest = users[2]["orders"]
    assert [o["order_id"] for o in newest] == [o.id for o in data.orders_of(data.resellers[0])[:5]]
    assert all(isinstance(o["total"], str) and "." in o["total"] for o in newest)
    pages = got["pages"]
    page_ids = [o["order_id"] for page in pages for o in page["orders"]]  # type: ignore[attr-defined]
    assert page_ids == [o.id for o in data.orders_of(data.resellers[0])[:6]]
    assert got["unknown user"] == 404
    assert got["no ids"] == 422
    assert got["bad limit"] == 422
    metrics = httpx.get(f"{SERVICES['orders'].url}/metrics").text
    assert 'orders_db_queries_per_request_count{route="/v1/orders/batch"}' in metrics
    assert 'orders_catalog_calls_per_request_sum{route="/v1/orders/batch"}' in metrics
    ready = httpx.get(f"{SERVICES['orders'].url}/readyz").json()
    assert ready["checks"] == {"database": "ok", "catalog": "ok"}


def test_the_reference_fix_gives_the_same_answers(lab: Path) -> None:
    poisoned = answers(SERVICES["orders"].url)

    assert drill(lab, "solve", "n-plus-one").returncode == 0

    assert answers(SERVICES["orders"].url) == poisoned
