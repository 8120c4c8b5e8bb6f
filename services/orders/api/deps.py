"""Dependencies the orders routes share."""

from typing import Annotated

from fastapi import Depends, Request

from services.orders.pricing import CatalogPrices


def _prices(request: Request) -> CatalogPrices:
    return CatalogPrices(request.app.state.catalog)


PricesDep = Annotated[CatalogPrices, Depends(_prices)]
"""Unit prices, looked up in the catalog."""
