"""The circular-deadlock grader's own copy of the chain's domain (drill/scenarios/chain_domain.py)
matches the committed service code and the spec: if either changes, this says the copy must."""

import uuid
from decimal import Decimal

import pytest

from drill.scenarios import chain_domain
from services.chain import pricing
from services.chain.settings import ChainSettings


def test_prices_rates_and_tiers_match_the_committed_chain() -> None:
    assert chain_domain.PRICES == pricing.PRICE_LIST
    assert chain_domain.RATES == pricing.DISCOUNT_RATES
    assert chain_domain.TIERS == pricing.TIERS
    for _ in range(300):
        customer = uuid.uuid4()
        assert chain_domain.tier_of(customer) == pricing.tier_of(customer)


def test_totals_match_the_committed_chain_to_the_cent() -> None:
    for sku, price in chain_domain.PRICES.items():
        for qty in (1, 5, 15, 45, 100):
            for tier in pricing.TIERS:
                subtotal = pricing.line_total(sku, qty)
                want = pricing.cents(subtotal - pricing.discount_for(subtotal, tier))
                assert chain_domain.total_of(((sku, qty),), tier) == want
                assert chain_domain.subtotal_of(((sku, qty),)) == price * qty


def test_half_cent_discounts_round_up() -> None:
    # 22.50 x 5 % = 1.125: half up is 1.13 (the spec), banker's rounding and float give 1.12.
    assert chain_domain.total_of((("SKU-COFFEE", 5),), "silver") == "21.37"
    assert chain_domain.discount_of(Decimal("22.50"), "silver") == Decimal("1.13")


def test_limits_default_to_the_committed_settings() -> None:
    defaults = ChainSettings()
    assert defaults.chain_max_concurrency == chain_domain.DEFAULT_POOL
    assert defaults.chain_timeout_s == chain_domain.DEFAULT_TIMEOUT_S


def test_limits_follow_the_environment_and_ignore_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAIN_MAX_CONCURRENCY", "16")
    monkeypatch.setenv("CHAIN_TIMEOUT_S", "2.5")
    assert (chain_domain.pool_limit(), chain_domain.timeout_s()) == (16, 2.5)
    for pool, timeout in (("0", "0"), ("lots", "soon"), ("²", "nan"), ("99999", "-1")):
        monkeypatch.setenv("CHAIN_MAX_CONCURRENCY", pool)
        monkeypatch.setenv("CHAIN_TIMEOUT_S", timeout)
        assert (chain_domain.pool_limit(), chain_domain.timeout_s()) == (8, 5.0)
