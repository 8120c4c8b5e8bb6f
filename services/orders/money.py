"""Money arithmetic for order totals: exact decimals, quantized to cents."""

from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")


def cents(amount: Decimal) -> str:
    """The amount as the wire shows money ("12.30")."""
    return str(amount.quantize(CENT, rounding=ROUND_HALF_EVEN))
