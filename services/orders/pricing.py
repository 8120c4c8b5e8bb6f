"""Unit prices from the catalog service."""

from decimal import Decimal

import httpx


class CatalogPrices:
    """Looks up products' current unit prices in the catalog."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def unit_price(self, sku: str) -> Decimal:
        """The catalog's current price of one product."""
        response = self.client.get(f"/v1/products/{sku}")
        response.raise_for_status()
        return Decimal(response.json()["price"])
