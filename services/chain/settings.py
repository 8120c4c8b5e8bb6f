"""Settings of the chain services: the kit's, plus the worker pool, timeouts and callee URLs."""

from pydantic import Field

from services.kit.settings import ServiceSettings


class ChainSettings(ServiceSettings):
    """Environment variables of service-a, service-b and service-c (one class for all three)."""

    service_name: str = "service-a"
    # Like a sync server with a fixed number of workers: at most this many requests are served at
    # once, the rest wait in line (CHAIN_MAX_CONCURRENCY, default 8).
    chain_max_concurrency: int = Field(default=8, ge=1, le=1024)
    # How long a service waits for the service it calls (CHAIN_TIMEOUT_S, default 5).
    chain_timeout_s: float = Field(default=5.0, gt=0, le=120)
    # The lab passes each callee's URL as <NAME>_URL; these defaults are the lab's ports.
    service_a_url: str = "http://127.0.0.1:5001"
    service_b_url: str = "http://127.0.0.1:5002"
    service_c_url: str = "http://127.0.0.1:5003"

    def url_of(self, service: str) -> str:
        """The base URL of another chain service."""
        urls = {
            "service-a": self.service_a_url,
            "service-b": self.service_b_url,
            "service-c": self.service_c_url,
        }
        return urls[service].rstrip("/")
