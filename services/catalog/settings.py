"""Catalog's settings: the kit's, plus the delay that makes it behave like a remote API."""

from pydantic import Field

from services.kit.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    """Environment variables of the catalog service."""

    service_name: str = "catalog"
    # Every call waits this long before answering, as a third-party API across a WAN would.
    catalog_latency_ms: int = Field(default=10, ge=0, le=10_000)
