"""The shop's history: users, their orders and order lines, the same on every start.

Loaded into an empty database when the service starts, so queries run on real-sized tables. Most
users have a handful of orders; some have none yet; a few resellers have hundreds; one wholesale
account has a few huge orders. Order ids grow with time.
"""

import functools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, insert

from services.catalog.products import CATALOG_SIZE, sku_of
from services.orders.models import Order, OrderLine, User

SEED = 6_3  # the seed's scenario number, 6.3
USERS = 5_000
# Share of users who signed up and never ordered.
NO_ORDER_SHARE = 0.15
RESELLERS = 3
RESELLER_ORDERS = 800
MAX_ORDINARY_ORDERS = 12
LINE_COUNTS, LINE_WEIGHTS = (1, 2, 3, 4), (40, 30, 20, 10)
QUANTITIES, QUANTITY_WEIGHTS = (1, 2, 3), (70, 20, 10)
STATUSES = ("delivered", "delivered", "delivered", "shipped", "cancelled")
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
# The wholesale account (the one user past USERS): a few orders of dozens of lines each, in
# quantities near the most an order line can hold, of a few high-priced products.
WHOLESALE_USER = USERS + 1
WHOLESALE_ORDERS = 6
WHOLESALE_LINES = 90
WHOLESALE_SKUS = ("SKU-02510", "SKU-02718", "SKU-07764")
MAX_QUANTITY = 2_147_483_647
# Rows per INSERT statement: large enough to be fast, small enough for any driver's limits.
INSERT_CHUNK = 5_000


@dataclass(frozen=True)
class SeedLine:
    """One line of a seeded order."""

    id: int
    sku: str
    quantity: int


@dataclass(frozen=True)
class SeedOrder:
    """One seeded order with its lines."""

    id: int
    user_id: int
    status: str
    created_at: datetime
    lines: tuple[SeedLine, ...]


@dataclass(frozen=True)
class SeedData:
    """Every seeded row, and who is who."""

    user_ids: tuple[int, ...]
    resellers: tuple[int, ...]
    wholesale: tuple[int, ...]
    without_orders: tuple[int, ...]
    orders: tuple[SeedOrder, ...]

    def orders_of(self, user_id: int) -> list[SeedOrder]:
        """The user's orders, most recent first."""
        return self._by_user.get(user_id, [])

    @functools.cached_property
    def with_orders(self) -> tuple[int, ...]:
        """Users with at least one order, by id."""
        return tuple(sorted(self._by_user))

    @functools.cached_property
    def _by_user(self) -> dict[int, list[SeedOrder]]:
        by_user: dict[int, list[SeedOrder]] = {}
        for order in reversed(self.orders):
            by_user.setdefault(order.user_id, []).append(order)
        return by_user


@functools.cache
def seed_data() -> SeedData:
    """The seeded shop (made once per process)."""
    rng = random.Random(SEED)
    user_ids = tuple(range(1, USERS + 1))
    resellers = tuple(sorted(rng.sample(user_ids, RESELLERS)))
    others = [u for u in user_ids if u not in resellers]
    without = tuple(sorted(rng.sample(others, int(USERS * NO_ORDER_SHARE))))
    skip = set(without)
    plan = [u for u in resellers for _ in range(RESELLER_ORDERS)]
    plan += [u for u in others if u not in skip for _ in range(rng.randint(1, MAX_ORDINARY_ORDERS))]
    rng.shuffle(plan)
    orders, line_id = [], 0
    for n, user_id in enumerate(plan):
        lines = []
        for _ in range(rng.choices(LINE_COUNTS, LINE_WEIGHTS)[0]):
            line_id += 1
            sku = sku_of(rng.randint(1, CATALOG_SIZE))
            quantity = rng.choices(QUANTITIES, QUANTITY_WEIGHTS)[0]
            lines.append(SeedLine(line_id, sku, quantity))
        created = EPOCH + timedelta(minutes=7 * n)
        orders.append(SeedOrder(n + 1, user_id, rng.choice(STATUSES), created, tuple(lines)))
    for k in range(WHOLESALE_ORDERS):
        lines = []
        for j in range(WHOLESALE_LINES):
            line_id += 1
            sku = WHOLESALE_SKUS[(j + k) % len(WHOLESALE_SKUS)]
            lines.append(SeedLine(line_id, sku, MAX_QUANTITY - 7_919 * j - 104_729 * k))
        n = len(orders)
        created = EPOCH + timedelta(minutes=7 * n)
        orders.append(SeedOrder(n + 1, WHOLESALE_USER, "delivered", created, tuple(lines)))
    return SeedData(
        (*user_ids, WHOLESALE_USER), resellers, (WHOLESALE_USER,), without, tuple(orders)
    )


def _chunks(rows: Sequence[dict[str, object]]) -> Iterator[Sequence[dict[str, object]]]:
    for start in range(0, len(rows), INSERT_CHUNK):
        yield rows[start : start + INSERT_CHUNK]


def load(conn: Connection, data: SeedData) -> None:
    """Insert the seeded rows into empty tables, with Core bulk inserts (a few seconds at most)."""
    users = [
        {
            "id": u,
            "name": f"Customer {u}",
            "email": f"customer{u}@example.test",
            "created_at": (EPOCH - timedelta(days=400 - u % 400)).replace(tzinfo=None),
        }
        for u in data.user_ids
    ]
    orders = [
        {
            "id": o.id,
            "user_id": o.user_id,
            "status": o.status,
            "created_at": o.created_at.replace(tzinfo=None),
        }
        for o in data.orders
    ]
    lines = [
        {"id": line.id, "order_id": o.id, "sku": line.sku, "quantity": line.quantity}
        for o in data.orders
        for line in o.lines
    ]
    for table, rows in ((User, users), (Order, orders), (OrderLine, lines)):
        for chunk in _chunks(rows):
            conn.execute(insert(table), chunk)
