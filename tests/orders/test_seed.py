"""The orders seed: realistic sizes, the same rows every time, SKUs the catalog knows."""

import itertools

from services.catalog.products import catalog
from services.orders.seed import (
    MAX_QUANTITY,
    RESELLER_ORDERS,
    USERS,
    WHOLESALE_LINES,
    WHOLESALE_ORDERS,
    seed_data,
)


def test_the_shop_has_thousands_of_users_and_tens_of_thousands_of_orders() -> None:
    data = seed_data()

    assert len(data.user_ids) == USERS + len(data.wholesale) >= 1_000
    assert len(data.orders) >= 10_000
    assert all(len(data.orders_of(u)) == RESELLER_ORDERS for u in data.resellers)
    assert data.without_orders and all(not data.orders_of(u) for u in data.without_orders)
    assert len(data.with_orders) + len(data.without_orders) == len(data.user_ids)


def test_the_wholesale_account_has_a_few_huge_orders_a_database_integer_can_hold() -> None:
    data = seed_data()
    (wholesale,) = data.wholesale
    orders = data.orders_of(wholesale)

    assert len(orders) == WHOLESALE_ORDERS
    assert all(len(o.lines) == WHOLESALE_LINES for o in orders)
    assert all(
        10**9 < line.quantity <= MAX_QUANTITY == 2**31 - 1 for o in orders for line in o.lines
    )


def test_the_seed_is_deterministic() -> None:
    first = seed_data()

    again = seed_data.__wrapped__()

    assert again.orders == first.orders
    assert again.resellers == first.resellers


def test_a_users_orders_come_newest_first_and_ids_grow_with_time() -> None:
    data = seed_data()
    orders = data.orders_of(data.with_orders[0])

    assert [o.id for o in orders] == sorted((o.id for o in orders), reverse=True)
    assert all(a.created_at < b.created_at for a, b in itertools.pairwise(data.orders))


def test_every_ordered_sku_is_in_the_catalog() -> None:
    products = catalog()

    assert all(line.sku in products for o in seed_data().orders for line in o.lines)
