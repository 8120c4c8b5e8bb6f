"""Unit prices from the catalog service: fetched in batches, without blocking, and cached."""

import asyncio
import time
from collections.abc import Iterable
from decimal import Decimal

import httpx

from services.kit.errors import RETRY_AFTER_S, Problem

# The catalog's batch form takes at most this many SKUs per call.
CATALOG_BATCH_MAX = 500
# Prices change a few times a day; a price up to a minute old is fine for an order summary.
PRICE_TTL_S = 60.0
# Bound on the cache's memory: past it, the cache starts afresh (the catalog has 25 000 SKUs).
CACHE_MAX_ENTRIES = 100_000


class PriceCache:
    """Unit prices by SKU, each forgotten PRICE_TTL_S after it was fetched."""

    def __init__(self, ttl_s: float = PRICE_TTL_S, max_entries: int = CACHE_MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Decimal, float]] = {}

    def get_many(self, skus: Iterable[str]) -> dict[str, Decimal]:
        """The prices still fresh in the cache, of the SKUs asked for."""
        now = time.monotonic()
        found = {}
        for sku in skus:
            entry = self._entries.get(sku)
            if entry is not None and entry[1] > now:
                found[sku] = entry[0]
        return found

    def put_many(self, prices: dict[str, Decimal]) -> None:
        """Remember freshly fetched prices."""
        if len(self._entries) + len(prices) > self.max_entries:
            self._entries.clear()
        expires = time.monotonic() + self.ttl_s
        self._entries.update((sku, (price, expires)) for sku, price in prices.items())


class CatalogPrices:
    """Looks up unit prices: from the cache, else from the catalog in as few calls as possible."""

    def __init__(self, client: httpx.AsyncClient, cache: PriceCache) -> None:
        self.client = client
        self.cache = cache

    async def unit_prices(self, skus: Iterable[str]) -> dict[str, Decimal]:
        """The current unit price of every SKU asked for."""
        wanted = set(skus)
        found = self.cache.get_many(wanted)
        missing = sorted(wanted - found.keys())
        if missing:
            chunks = [
                missing[start : start + CATALOG_BATCH_MAX]
                for start in range(0, len(missing), CATALOG_BATCH_MAX)
            ]
            pages = await asyncio.gather(*(self._fetch(chunk) for chunk in chunks))
            for page in pages:
                self.cache.put_many(page)
                found.update(page)
        unknown = wanted - found.keys()
        if unknown:
            raise Problem(
                502, "unknown_sku", "Catalog does not know an ordered product", str(sorted(unknown))
            )
        return found

    async def _fetch(self, skus: list[str]) -> dict[str, Decimal]:
        try:
            response = await self.client.post("/v1/products/batch", json={"skus": skus})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise Problem(
                503,
                "catalog_unavailable",
                "Catalog unavailable",
                f"{type(exc).__name__}: {exc}",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from exc
        return {item["sku"]: Decimal(item["price"]) for item in response.json()["products"]}
