"""The ASGI entry point: `uvicorn services.billing.main:app`."""

from services.billing.app import create_app
from services.billing.settings import BillingSettings

app = create_app(BillingSettings())
