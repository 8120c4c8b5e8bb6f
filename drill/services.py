"""The lab's services as the local lab runs them: one uvicorn process each, on its port."""

import os
from dataclasses import dataclass

# The lab's own Prometheus and Alertmanager (docs/contracts.md; DRILL_PORT_OFFSET applies in the
# local lab).
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093


def port_offset() -> int:
    """DRILL_PORT_OFFSET, added to every port, so that two labs (two test runs, say) can run side
    by side on one machine. 0, the ports of docs/contracts.md, unless set."""
    raw = os.environ.get("DRILL_PORT_OFFSET", "0")
    if not raw.isdigit() or int(raw) > 50_000:
        raise ValueError(f"DRILL_PORT_OFFSET must be a whole number from 0 to 50000, not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the lab."""

    name: str
    app: str  # the ASGI app, as uvicorn takes it
    base_port: int  # docs/contracts.md's port; the lab listens on base_port + DRILL_PORT_OFFSET
    uses_database: bool = False
    # Services this one calls; each reaches it as <NAME>_URL (e.g. CATALOG_URL, SERVICE_B_URL).
    calls: tuple[str, ...] = ()

    @property
    def port(self) -> int:
        """The port the lab listens on, on 127.0.0.1 only."""
        return self.base_port + port_offset()

    @property
    def url(self) -> str:
        """Base URL on the host."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url_variable(self) -> str:
        """The environment variable through which callers learn this service's URL."""
        return f"{self.name.upper().replace('-', '_')}_URL"


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec("billing", "services.billing.main:app", 8001, uses_database=True),
        ServiceSpec("service-a", "services.chain.service_a:app", 5001, calls=("service-b",)),
        ServiceSpec("service-b", "services.chain.service_b:app", 5002, calls=("service-c",)),
        ServiceSpec("service-c", "services.chain.service_c:app", 5003, calls=("service-a",)),
        ServiceSpec("catalog", "services.catalog.main:app", 8003),
        ServiceSpec(
            "orders", "services.orders.main:app", 8002, uses_database=True, calls=("catalog",)
        ),
    )
}
