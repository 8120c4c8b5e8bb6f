"""The receiver as a process of the local lab, the way drill.observability adds Prometheus."""

import sys

from drill.lab import Launch
from drill.services import port_offset
from drill.traces.settings import OTLP_HTTP_PORT, RECEIVER


def receiver_port() -> int:
    """Where the local lab's receiver listens: Jaeger's OTLP/HTTP port plus DRILL_PORT_OFFSET."""
    return OTLP_HTTP_PORT + port_offset()


def receiver_url() -> str:
    """The receiver's base URL on the host."""
    return f"http://127.0.0.1:{receiver_port()}"


def launch() -> Launch:
    """`python -m drill.traces` on the receiver's port, ready when /healthz answers."""
    port = receiver_port()
    argv = [sys.executable, "-m", "drill.traces", "--host", "127.0.0.1", "--port", str(port)]
    return Launch(RECEIVER, argv, port, "/healthz")
