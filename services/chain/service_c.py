"""The ASGI entry point of service-c: `uvicorn services.chain.service_c:app`."""

from services.chain.app import create_app
from services.chain.settings import ChainSettings

app = create_app(ChainSettings(service_name="service-c"))
