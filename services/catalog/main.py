"""The ASGI entry point: `uvicorn services.catalog.main:app`."""

from services.catalog.app import create_app
from services.catalog.settings import CatalogSettings

app = create_app(CatalogSettings())
