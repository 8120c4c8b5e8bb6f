"""The n-plus-one grader's own copy of what it grades against matches the committed service code,
and the data it keeps for itself gives it what it needs: prices no load asks for, and money where
float arithmetic visibly drifts. Also the grader's parsers, without a lab."""

import ast
from decimal import Decimal
from pathlib import Path

import httpx

from drill.scenarios import n_plus_one as grader
from drill.scenarios import n_plus_one_data as data
from services.catalog.products import catalog
from services.catalog.schemas import MAX_BATCH_SKUS
from services.orders import limits, seed
from tests.conftest import REPO


def test_the_graders_catalog_prices_are_the_catalogs() -> None:
    assert data.prices() == {sku: product.price for sku, product in catalog().items()}
    assert data.CATALOG_BATCH_MAX == MAX_BATCH_SKUS


def test_the_graders_shop_is_the_seed() -> None:
    shop, seeded = data.shop(), seed.seed_data()

    assert shop.user_ids == seeded.user_ids
    assert shop.resellers == seeded.resellers
    assert (shop.wholesale,) == seeded.wholesale
    assert shop.without_orders == seeded.without_orders
    assert [(o.id, o.user_id, o.status) for o in shop.orders] == [
        (o.id, o.user_id, o.status) for o in seeded.orders
    ]
    assert [[(x.sku, x.quantity) for x in o.lines] for o in shop.orders] == [
        [(x.sku, x.quantity) for x in o.lines] for o in seeded.orders
    ]


def reference_constant(name: str) -> object:
    """A module-level constant of the reference fix's orders schemas, read without importing."""
    path = REPO / "solutions" / "n-plus-one" / "services" / "orders" / "schemas.py"
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} no longer defines {name}")


def test_the_graders_limits_are_the_services() -> None:
    assert data.RECENT_ORDERS == limits.RECENT_ORDERS
    assert data.DEFAULT_PAGE == limits.DEFAULT_PAGE
    assert data.MAX_PAGE == limits.MAX_PAGE
    assert reference_constant("MAX_BATCH_USERS") == data.MAX_BATCH_USERS


def test_the_drills_load_never_asks_for_what_the_grader_keeps_cold() -> None:
    # That the load asks for exactly these: tests/loadgen/test_load_files.py.
    asked = set(data.load_buyers())
    cold_users = {c.user_id for c in data.cold_users()}

    assert not asked & cold_users
    assert data.shop().wholesale not in asked
    # Enough for ten verifies a minute apart without asking twice for the same cold prices.
    assert len(cold_users) >= 10 * (grader.COLD_BATCH_USERS + 2 * grader.OUTAGE_USERS)
    assert len(data.cold_reseller_skus()) >= 300


def test_cold_prices_are_in_no_order_anything_else_shows() -> None:
    shop = data.shop()
    warm = data.skus_of(o for u in data.load_buyers() for o in shop.orders_of(u)[:10])

    assert not warm & data.cold_reseller_skus()
    assert not warm & set().union(*(c.cold_skus for c in data.cold_users()))


def float_answers(order: data.Order, how: str) -> tuple[list[str], str]:
    """(amounts, total) of the order as a float-based implementation would show them."""
    price = data.prices()
    if how == "float, shown to two places":
        amounts = [float(price[x.sku]) * x.quantity for x in order.lines]
        return [f"{a:.2f}" for a in amounts], f"{sum(amounts):.2f}"
    if how == "exact amounts, float total":
        exact = [price[x.sku] * x.quantity for x in order.lines]
        return [data.money(a) for a in exact], f"{sum(float(a) for a in exact):.2f}"
    if how == "price parsed as float, then Decimal":
        amounts_d = [Decimal(float(price[x.sku])) * x.quantity for x in order.lines]
        return [data.money(a) for a in amounts_d], data.money(sum(amounts_d, Decimal(0)))
    if how == "integer cents divided by 100":
        cents = [int(price[x.sku] * 100) * x.quantity for x in order.lines]
        return [f"{c / 100:.2f}" for c in cents], f"{sum(cents) / 100:.2f}"
    raise ValueError(how)


def test_the_wholesale_orders_show_every_float_shortcut() -> None:
    """Seeded prices and quantities are small enough that float arithmetic shown to two places is
    right; the wholesale account's orders are where it is not, whichever way it is spelled."""
    orders = data.shop().orders_of(data.shop().wholesale)
    ways = (
        "float, shown to two places",
        "exact amounts, float total",
        "price parsed as float, then Decimal",
        "integer cents divided by 100",
    )

    for how in ways:
        wrong = [
            o.id
            for o in orders
            if float_answers(o, how)
            != ([i["amount"] for i in grader.wire(o.id)["items"]], grader.wire(o.id)["total"])
        ]
        assert len(wrong) >= 2, how
    assert max(len(o.lines) for o in orders) < 100  # within any sane bound on lines per order


def test_server_timing_is_read_from_every_header_line() -> None:
    response = httpx.Response(
        200,
        headers=[
            ("server-timing", "app;dur=3.1"),
            ("server-timing", "db;count=3;rows=57, catalog;count=1"),
        ],
    )

    assert grader.work_of(response) == grader.Work(statements=3, rows=57, catalog_calls=1)
    assert grader.work_of(httpx.Response(200)) is None
    assert grader.work_of(httpx.Response(200, headers={"server-timing": "db;count=x"})) is None


def test_float_uses_find_conversions_and_money_fields_not_durations(tmp_path: Path) -> None:
    orders = tmp_path / "services" / "orders"
    orders.mkdir(parents=True)
    (orders / "pricing.py").write_text(
        "import time\n"
        "from decimal import Decimal\n"
        "from pydantic import BaseModel\n"
        "from sqlalchemy import Float\n"
        "TTL_S = 60.0\n"
        "class Price(BaseModel):\n"
        "    price: float\n"
        "    timeout_s: float = 5.0\n"
        "class Cache:\n"
        "    def __init__(self, ttl_s: float = TTL_S) -> None:\n"
        "        self.entries: dict[str, tuple[Decimal, float]] = {}\n"
        "        self.expires = time.monotonic() + ttl_s\n"
        "def parse(text: str) -> Decimal:\n"
        "    return Decimal(float(text))\n"
        "column = Float()\n"
    )

    assert grader.float_uses(tmp_path) == [
        "services/orders/pricing.py:7 price: float",
        "services/orders/pricing.py:14 float(text)",
        "services/orders/pricing.py:15 Float",
    ]
    assert grader.float_uses(REPO) == []
