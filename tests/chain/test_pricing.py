"""The chain's domain rules: tiers, discounts and money rounding."""

import uuid
from decimal import Decimal

from services.chain.pricing import TIERS, cents, discount_for, line_total, tier_of


def test_every_tier_is_reachable_and_stable_for_a_customer() -> None:
    customers = [uuid.UUID(int=n) for n in range(30)]

    assert {tier_of(c) for c in customers} == set(TIERS)
    assert all(tier_of(c) == tier_of(uuid.UUID(str(c))) for c in customers)


def test_discount_rounds_half_up_to_the_cent() -> None:
    assert discount_for(Decimal("9.99"), "silver") == Decimal("0.50")  # 0.4995
    assert discount_for(Decimal("0.05"), "gold") == Decimal("0.01")  # 0.005
    assert discount_for(Decimal("149.00"), "bronze") == Decimal("0.00")


def test_money_is_an_exact_two_place_string() -> None:
    assert cents(line_total("SKU-FILTER", 7)) == "0.49"
    assert cents(line_total("SKU-BAGEL", 3)) == "9.99"
    assert cents(Decimal("12.3")) == "12.30"
