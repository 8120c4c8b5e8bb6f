"""The ASGI entry point: `uvicorn services.orders.main:app`."""

from services.orders.app import create_app
from services.orders.settings import OrdersSettings

app = create_app(OrdersSettings())
