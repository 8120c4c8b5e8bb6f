"""Where the lab's trace receiver listens, and how a service is told to export to it.

Kept free of imports from the rest of drill, so that drill.lab can use it.
"""

from collections.abc import Mapping

# Jaeger's OTLP/HTTP port: the receiver stands where Jaeger would (plus DRILL_PORT_OFFSET).
OTLP_HTTP_PORT = 4318
# The receiver's name in the lab (`drill up` lists it, `.drill/logs/traces.log` is its log).
RECEIVER = "traces"
# How often a service sends its finished spans (the SDK's default is 5 s): `drill traces` right
# after a request should show it. OTEL_BSP_SCHEDULE_DELAY, when set, wins.
SCHEDULE_DELAY_MS = 1000


def otlp_environment(receiver_url: str, current: Mapping[str, str]) -> dict[str, str]:
    """The standard OpenTelemetry variables to add to a service's environment (`current`) to make
    it export its spans to the receiver at `receiver_url` (OTLP/HTTP protobuf)."""
    return {
        "OTEL_BSP_SCHEDULE_DELAY": current.get("OTEL_BSP_SCHEDULE_DELAY", str(SCHEDULE_DELAY_MS)),
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url,
        # The traces-specific variable wins over the general one: a value left in the shell
        # must not send the lab's spans elsewhere.
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver_url}/v1/traces",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
