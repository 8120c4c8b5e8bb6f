"""What the n-plus-one grader grades against, kept by the grader itself.

The catalog's prices, the shop the orders service seeds, and the API's limits are copied here
from services/ rather than imported: a trainee edits services/orders, and an edit there must not
move the grader's expectations with it. tests/drill/scenarios/test_n_plus_one_data.py proves the
copies match the committed service code.

It also says which data the drill's load (loadgen/slow_orders.py) may ask for and which only the
grader asks for: prices that nothing else asks for are prices no cache can hold yet, which is how
the grader reaches a cold cache honestly, whatever load is running.
"""

import functools
import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

# ---- the catalog (services/catalog/products.py) ------------------------------------------------

CATALOG_SEED = 6_3
CATALOG_SIZE = 25_000
_ADJECTIVES = ("Compact", "Deluxe", "Eco", "Heavy-duty", "Mini", "Pro", "Smart", "Travel")
_NOUNS = ("Blender", "Cable", "Charger", "Desk Lamp", "Headset", "Kettle", "Mug", "Notebook")


def sku_of(number: int) -> str:
    """The SKU of the catalog's product with this number (1 .. CATALOG_SIZE)."""
    return f"SKU-{number:05d}"


@functools.cache
def prices() -> dict[str, Decimal]:
    """Every product's unit price, by SKU, as the catalog sells it."""
    rng = random.Random(CATALOG_SEED)  # noqa: S311 - the catalog's own deterministic sequence
    found = {}
    for number in range(1, CATALOG_SIZE + 1):
        cents = rng.randint(99, 499_99)
        # The product's name takes two draws: made here too, to keep the sequence aligned.
        rng.choice(_ADJECTIVES)
        rng.choice(_NOUNS)
        found[sku_of(number)] = Decimal(cents).scaleb(-2)
    return found


# ---- the shop (services/orders/seed.py) ---------------------------------------------------------

SEED = 6_3
USERS = 5_000
NO_ORDER_SHARE = 0.15
RESELLERS = 3
RESELLER_ORDERS = 800
MAX_ORDINARY_ORDERS = 12
LINE_COUNTS, LINE_WEIGHTS = (1, 2, 3, 4), (40, 30, 20, 10)
QUANTITIES, QUANTITY_WEIGHTS = (1, 2, 3), (70, 20, 10)
STATUSES = ("delivered", "delivered", "delivered", "shipped", "cancelled")
WHOLESALE_USER = USERS + 1
WHOLESALE_ORDERS = 6
WHOLESALE_LINES = 90
WHOLESALE_SKUS = ("SKU-02510", "SKU-02718", "SKU-07764")
MAX_QUANTITY = 2_147_483_647


@dataclass(frozen=True)
class Line:
    """One order line: a product and how many."""

    sku: str
    quantity: int


@dataclass(frozen=True)
class Order:
    """One seeded order."""

    id: int
    user_id: int
    status: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Shop:
    """Every seeded user and order, and who is who."""

    user_ids: tuple[int, ...]
    resellers: tuple[int, ...]
    wholesale: int
    without_orders: tuple[int, ...]
    orders: tuple[Order, ...]

    def orders_of(self, user_id: int) -> list[Order]:
        """The user's orders, most recent (highest id) first."""
        return self._by_user.get(user_id, [])

    @functools.cached_property
    def _by_user(self) -> dict[int, list[Order]]:
        by_user: dict[int, list[Order]] = {}
        for order in reversed(self.orders):
            by_user.setdefault(order.user_id, []).append(order)
        return by_user

    @functools.cached_property
    def ordinary(self) -> tuple[int, ...]:
        """Users with a handful of orders: neither resellers nor the wholesale account."""
        special = {*self.resellers, self.wholesale}
        return tuple(sorted(u for u in self._by_user if u not in special))


@functools.cache
def shop() -> Shop:
    """The seeded shop, drawn exactly as services/orders/seed.py draws it."""
    rng = random.Random(SEED)  # noqa: S311 - the seed's own deterministic sequence
    user_ids = tuple(range(1, USERS + 1))
    resellers = tuple(sorted(rng.sample(user_ids, RESELLERS)))
    others = [u for u in user_ids if u not in resellers]
    without = tuple(sorted(rng.sample(others, int(USERS * NO_ORDER_SHARE))))
    skip = set(without)
    plan = [u for u in resellers for _ in range(RESELLER_ORDERS)]
    plan += [u for u in others if u not in skip for _ in range(rng.randint(1, MAX_ORDINARY_ORDERS))]
    rng.shuffle(plan)
    orders = []
    for n, user_id in enumerate(plan):
        lines = []
        for _ in range(rng.choices(LINE_COUNTS, LINE_WEIGHTS)[0]):
            sku = sku_of(rng.randint(1, CATALOG_SIZE))
            lines.append(Line(sku, rng.choices(QUANTITIES, QUANTITY_WEIGHTS)[0]))
        orders.append(Order(n + 1, user_id, rng.choice(STATUSES), tuple(lines)))
    for k in range(WHOLESALE_ORDERS):
        lines = [
            Line(
                WHOLESALE_SKUS[(j + k) % len(WHOLESALE_SKUS)],
                MAX_QUANTITY - 7_919 * j - 104_729 * k,
            )
            for j in range(WHOLESALE_LINES)
        ]
        orders.append(Order(len(orders) + 1, WHOLESALE_USER, "delivered", tuple(lines)))
    return Shop((*user_ids, WHOLESALE_USER), resellers, WHOLESALE_USER, without, tuple(orders))


# ---- the API's limits (runbooks/specs/orders.md) ------------------------------------------------

RECENT_ORDERS = 5
DEFAULT_PAGE = 20
MAX_PAGE = 50
MAX_BATCH_USERS = 500
# The catalog's batch form takes this many SKUs per call (services/catalog/schemas.py).
CATALOG_BATCH_MAX = 500

# ---- who asks for what ------------------------------------------------------------------------

# One ordinary buyer in RESERVE_EVERY is the grader's alone: the drill's load never asks for them.
RESERVE_EVERY = 5
# Reseller orders up to this depth may be shown by the load or by the grader's warm checks; deeper
# ones (a page that far back) only by the grader's cold checks.
WARM_RESELLER_DEPTH = 60


def reserved(user_id: int) -> bool:
    """Whether the user is kept for the grader's cold checks."""
    return user_id % RESERVE_EVERY == 0


@functools.cache
def load_buyers() -> tuple[int, ...]:
    """The users the drill's load asks for: resellers and ordinary buyers not reserved."""
    data = shop()
    return tuple(sorted([*data.resellers, *(u for u in data.ordinary if not reserved(u))]))


@functools.cache
def warm_buyers() -> tuple[int, ...]:
    """Ordinary buyers anyone may ask for: the load, and the grader's checks that need no cold
    cache."""
    return tuple(u for u in shop().ordinary if not reserved(u))


def skus_of(orders: Iterable[Order]) -> set[str]:
    """Every SKU the orders mention."""
    return {line.sku for order in orders for line in order.lines}


@functools.cache
def _warm_skus() -> frozenset[str]:
    """SKUs anything but the grader's cold checks may have priced: every order of every warm
    buyer, resellers' recent orders, the wholesale account's."""
    data = shop()
    orders = [o for u in warm_buyers() for o in data.orders_of(u)]
    orders += [o for r in data.resellers for o in data.orders_of(r)[:WARM_RESELLER_DEPTH]]
    orders += data.orders_of(data.wholesale)
    return frozenset(skus_of(orders))


@dataclass(frozen=True)
class ColdUser:
    """A reserved user and the SKUs of their recent orders that only the grader asks for."""

    user_id: int
    cold_skus: frozenset[str]


@functools.cache
def cold_users() -> tuple[ColdUser, ...]:
    """Reserved users whose recent orders hold at least one SKU nothing else asks for."""
    data = shop()
    found = []
    for user_id in data.ordinary:
        if reserved(user_id):
            skus = skus_of(data.orders_of(user_id)[:RECENT_ORDERS]) - _warm_skus()
            if skus:
                found.append(ColdUser(user_id, frozenset(skus)))
    return tuple(found)


@functools.cache
def cold_reseller_skus() -> frozenset[str]:
    """SKUs of resellers' old orders (past WARM_RESELLER_DEPTH) that nothing else asks for."""
    data = shop()
    recent_reserved = skus_of(
        o for u in data.ordinary if reserved(u) for o in data.orders_of(u)[:RECENT_ORDERS]
    )
    old = skus_of(o for r in data.resellers for o in data.orders_of(r)[WARM_RESELLER_DEPTH:])
    return frozenset(old - _warm_skus() - recent_reserved)


# ---- the wire -----------------------------------------------------------------------------------

CENT = Decimal("0.01")


def money(amount: Decimal) -> str:
    """An exact amount as the API must show it: a decimal string with two places."""
    return str(amount.quantize(CENT, rounding=ROUND_HALF_EVEN))


def wire_order(order: Order) -> dict[str, Any]:
    """The order as the API must show it, priced at the catalog's prices."""
    price = prices()
    items, total = [], Decimal(0)
    for line in order.lines:
        amount = price[line.sku] * line.quantity
        total += amount
        items.append(
            {
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": money(price[line.sku]),
                "amount": money(amount),
            }
        )
    return {"order_id": order.id, "total": money(total), "items": items}
