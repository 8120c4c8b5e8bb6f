"""Dependencies the orders routes share."""

from typing import Annotated

from fastapi import Depends, Request

from services.orders.pricing import CatalogPrices


def _prices(request: Request) -> CatalogPrices:
    prices: CatalogPrices = request.app.state.prices
    return prices


PricesDep = Annotated[CatalogPrices, Depends(_prices)]
"""Unit prices: cached, else fetched from the catalog in batches."""
