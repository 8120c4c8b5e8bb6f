"""The lab's services as the local lab runs them: one uvicorn process each, on the brief's port."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the lab."""

    name: str
    app: str  # the ASGI app, as uvicorn takes it
    port: int
    uses_database: bool = False

    @property
    def url(self) -> str:
        """Base URL on the host, bound to loopback only."""
        return f"http://127.0.0.1:{self.port}"


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (ServiceSpec("billing", "services.billing.main:app", 8001, uses_database=True),)
}
