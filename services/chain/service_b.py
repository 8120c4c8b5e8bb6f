"""The ASGI entry point of service-b: `uvicorn services.chain.service_b:app`."""

from services.chain.app import create_app
from services.chain.settings import ChainSettings

app = create_app(ChainSettings(service_name="service-b"))
