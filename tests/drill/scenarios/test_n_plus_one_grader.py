"""The n-plus-one grader fails the poisoned orders service, passes the reference fix, and fails
plausible wrong fixes, each for the right reasons. Every case runs a real lab from a tree copy."""

from pathlib import Path

import pytest

from tests.conftest import drill, failed, restart_lab, rewrite, verify_json

pytestmark = pytest.mark.slow

ANSWERS = "batches and pages match the seeded orders and catalog prices"
LIMIT = "batches over 500 ids, or empty, are 422"
QUERIES = "DB queries per batch constant from 1 to 500 users"
BATCHED = "catalog called in batches, not once per order line"
CACHED = "a repeated batch is priced from cache"
P99 = "P99 < 200 ms for batches of 100 users under load"
STALL = "cheap requests stay fast while large batches run"
ALL = {ANSWERS, LIMIT, QUERIES, BATCHED, CACHED, P99, STALL}


def test_poisoned_code_fails_on_every_planted_fault(lab: Path) -> None:
    code, checks = verify_json(lab, "n-plus-one")

    assert code == 1
    assert set(checks) == ALL
    # The answers are right: the fault is the cost of getting them, and the grader must say so.
    assert failed(checks) == ALL - {ANSWERS}


def test_reference_fix_passes_every_check(lab: Path) -> None:
    assert drill(lab, "solve", "n-plus-one").returncode == 0

    code, checks = verify_json(lab, "n-plus-one")

    assert failed(checks) == set()
    assert code == 0


def test_batched_queries_with_blocking_catalog_calls_still_fail(lab: Path) -> None:
    """The database half of the fix alone: three queries per batch, but each SKU still priced by
    a blocking call inside the async handler, which stalls the whole process."""
    assert drill(lab, "solve", "n-plus-one").returncode == 0
    pricing = lab / "services" / "orders" / "pricing.py"
    rewrite(
        pricing,
        "    async def _fetch(self, skus: list[str]) -> dict[str, Decimal]:",
        "    blocking = httpx.Client()\n\n"
        "    def _fetch_blocking(self, sku: str) -> dict[str, Decimal]:\n"
        '        response = self.blocking.get(self.client.base_url.join(f"/v1/products/{sku}"))\n'
        '        return {sku: Decimal(response.json()["price"])}\n\n'
        "    async def _fetch(self, skus: list[str]) -> dict[str, Decimal]:",
    )
    rewrite(
        pricing,
        "pages = await asyncio.gather(*(self._fetch(chunk) for chunk in chunks))",
        "pages = [self._fetch_blocking(sku) for sku in missing]",
    )
    restart_lab(lab)

    code, checks = verify_json(lab, "n-plus-one")

    assert code == 1
    assert failed(checks) == {BATCHED, P99, STALL}


def test_a_price_cache_without_batching_still_fails(lab: Path) -> None:
    """The first idea under pressure: remember each price. Repeats get cheap, but every new SKU
    is still one blocking call, and every user still costs its own queries."""
    pricing = lab / "services" / "orders" / "pricing.py"
    rewrite(
        pricing,
        "class CatalogPrices:",
        "_PRICES: dict[str, Decimal] = {}\n\n\nclass CatalogPrices:",
    )
    rewrite(
        pricing,
        '''        """The catalog's current price of one product."""\n''',
        '''        """The catalog's current price of one product."""\n'''
        "        if sku in _PRICES:\n"
        "            return _PRICES[sku]\n",
    )
    rewrite(
        pricing,
        """        return Decimal(response.json()["price"])""",
        """        _PRICES[sku] = Decimal(response.json()["price"])\n        return _PRICES[sku]""",
    )
    restart_lab(lab)

    code, checks = verify_json(lab, "n-plus-one")

    assert code == 1
    assert checks[ANSWERS] and checks[CACHED]
    assert failed(checks) == {LIMIT, QUERIES, BATCHED, P99, STALL}
