"""The grader's own copy of what the checkout chain must compute (runbooks/specs/chain.md): prices,
loyalty tiers, discount rates, rounding, and the limits the lab runs the chain with.

The circular-deadlock grader computes every expected total from this module, never from
services/chain/, which is the code a team edits: an edit there must not move the expectation.
tests/drill/scenarios/test_chain_domain.py checks that this copy matches the committed code.
"""

import os
import uuid
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

Basket = tuple[tuple[str, int], ...]

TIERS = ("bronze", "silver", "gold")
CENT = Decimal("0.01")

PRICES: dict[str, Decimal] = {
    "SKU-COFFEE": Decimal("4.50"),
    "SKU-BAGEL": Decimal("3.33"),
    "SKU-MUG": Decimal("12.99"),
    "SKU-BEANS": Decimal("17.25"),
    "SKU-FILTER": Decimal("0.07"),
    "SKU-GRINDER": Decimal("149.00"),
}

RATES: dict[str, Decimal] = {
    "bronze": Decimal("0.00"),
    "silver": Decimal("0.05"),
    "gold": Decimal("0.10"),
}

# The default CHAIN_MAX_CONCURRENCY and CHAIN_TIMEOUT_S (docs/contracts.md), unless the
# environment the lab was started from sets them (the local lab's services inherit it).
DEFAULT_POOL = 8
DEFAULT_TIMEOUT_S = 5.0


def tier_of(customer: uuid.UUID) -> str:
    """The customer's loyalty tier: it follows from the id (uuid.int % 3)."""
    return TIERS[customer.int % len(TIERS)]


def customer_of(tier: str) -> uuid.UUID:
    """A fresh customer id of the given tier: never seen before, so no cache can know it."""
    while tier_of(candidate := uuid.uuid4()) != tier:
        pass
    return candidate


def subtotal_of(basket: Iterable[tuple[str, int]]) -> Decimal:
    """The sum of the order lines."""
    return sum((PRICES[sku] * qty for sku, qty in basket), Decimal(0))


def discount_of(subtotal: Decimal, tier: str) -> Decimal:
    """The loyalty discount on a subtotal, rounded half up to the cent."""
    return (subtotal * RATES[tier]).quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount: Decimal) -> str:
    """Money as the wire shows it: a decimal string with two places."""
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def total_of(basket: Basket, tier: str) -> str:
    """What the customer pays for the basket: subtotal minus the tier's discount."""
    subtotal = subtotal_of(basket)
    return money(subtotal - discount_of(subtotal, tier))


def pool_limit() -> int:
    """CHAIN_MAX_CONCURRENCY as the lab's environment sets it (8 unless set to 1..1024)."""
    raw = os.environ.get("CHAIN_MAX_CONCURRENCY", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 1024 else DEFAULT_POOL


def timeout_s() -> float:
    """CHAIN_TIMEOUT_S as the lab's environment sets it (5 unless set to a number in (0, 120])."""
    try:
        value = float(os.environ.get("CHAIN_TIMEOUT_S", ""))
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if 0 < value <= 120 else DEFAULT_TIMEOUT_S
