"""Where a load goes when Locust is given no --host: the lab's service on 127.0.0.1, at its port
of docs/contracts.md plus DRILL_PORT_OFFSET, as the local lab places it. (The Docker lab's Locust
is given --host, a compose hostname.) The load imports only the services' code, never the lab's
tooling, so that the service image carries the load and no instructor material."""

import os


def lab_url(port: int) -> str:
    """http://127.0.0.1:<port + DRILL_PORT_OFFSET>."""
    return f"http://127.0.0.1:{port + int(os.environ.get('DRILL_PORT_OFFSET') or 0)}"
