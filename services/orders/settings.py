"""Orders' settings: the kit's, plus where the catalog answers and the seed switch."""

from pydantic import Field

from services.kit.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    """Environment variables of the orders service."""

    service_name: str = "orders"
    database_url: str = "sqlite:///./.drill/data/orders.db"
    # The lab sets CATALOG_URL to the catalog it runs (drill/services.py, `calls`).
    catalog_url: str = "http://127.0.0.1:8003"
    catalog_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # Users, orders and lines loaded into an empty database, so queries run on real-sized tables.
    seed_data: bool = True
