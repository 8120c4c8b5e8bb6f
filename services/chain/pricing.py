"""The chain's domain: the price list, loyalty tiers and how a discount is rounded.

Money is Decimal end to end and a decimal string on the wire, quantized to cents.
"""

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Tier = Literal["bronze", "silver", "gold"]
TIERS: tuple[Tier, ...] = ("bronze", "silver", "gold")
CENT = Decimal("0.01")

PRICE_LIST: dict[str, Decimal] = {
    "SKU-COFFEE": Decimal("4.50"),
    "SKU-BAGEL": Decimal("3.33"),
    "SKU-MUG": Decimal("12.99"),
    "SKU-BEANS": Decimal("17.25"),
    "SKU-FILTER": Decimal("0.07"),
    "SKU-GRINDER": Decimal("149.00"),
}

DISCOUNT_RATES: dict[Tier, Decimal] = {
    "bronze": Decimal("0.00"),
    "silver": Decimal("0.05"),
    "gold": Decimal("0.10"),
}


def tier_of(customer_id: uuid.UUID) -> Tier:
    """The customer's loyalty tier.

    The lab keeps no customer database: the tier follows from the id, so every run agrees on
    it without shared state.
    """
    return TIERS[customer_id.int % len(TIERS)]


def cents(amount: Decimal) -> str:
    """Money as the wire shows it: a decimal string with two places."""
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def line_total(sku: str, qty: int) -> Decimal:
    """Price of one order line; KeyError for an unknown sku."""
    return PRICE_LIST[sku] * qty


def discount_for(subtotal: Decimal, tier: Tier) -> Decimal:
    """The loyalty discount on a subtotal, rounded half up to the cent."""
    return (subtotal * DISCOUNT_RATES[tier]).quantize(CENT, rounding=ROUND_HALF_UP)
