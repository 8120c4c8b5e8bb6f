"""The catalog service's app factory."""

from fastapi import FastAPI

from services.catalog.api.routes import products
from services.catalog.products import catalog
from services.catalog.settings import CatalogSettings
from services.kit.app import build_service_app


def create_app(settings: CatalogSettings) -> FastAPI:
    """Build a catalog app for these settings (each test builds its own)."""
    catalog()  # build the product list now, not during the first request
    return build_service_app(
        settings,
        title="Catalog",
        description="Products and unit prices: a slow external API, one call or a batch.",
        routers=[products.router],
        readiness={},
    )
