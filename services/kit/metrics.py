"""Prometheus metrics every service exports, in a registry of its own per app.

A registry per app (not the process-global one) lets each test build a fresh app, and lets a
service add its own metrics beside these with `metrics.registry`.
"""

from decimal import Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# The SLO buckets (0.05 .. 5 s) plus finer and coarser ones, so P99 < 200 ms is readable
# straight off `le="0.2"` and a 10 s hang still lands in a bucket of its own.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def set_exact(gauge: Gauge, value: Decimal | int) -> None:
    """Publish an exact number (money, counts) as a gauge.

    Prometheus stores every sample as a float64; the conversion happens here, at the telemetry
    boundary, so that service code never handles money as a float.
    """
    gauge.set(float(value))


class ServiceMetrics:
    """The golden signals of one service: latency by route and status, in-flight, errors."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.request_duration = Histogram(
            "http_server_request_duration_seconds",
            "Time to serve an HTTP request, by route template and status code.",
            ["service", "method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_server_requests_in_flight",
            "HTTP requests being served right now.",
            ["service"],
            registry=self.registry,
        )
        self.errors = Counter(
            "service_errors",
            "Error responses and failed background work, by error_code.",
            ["service", "error_code"],
            registry=self.registry,
        )

    def count_error(self, error_code: str) -> None:
        """Count one error of the given code."""
        self.errors.labels(self.service, error_code).inc()
