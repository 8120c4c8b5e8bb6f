"""The harm a fault does, measured during the drill from the scenario's services' /metrics.

A sample is taken whenever the conductor runs (start, status, hint, diagnose, before each
verify, end) and kept in the journal: a fix restarts the services and resets their counters,
so the post-mortem reports the worst value seen while the fault was live.
"""

from collections import defaultdict

import httpx
from prometheus_client.parser import text_string_to_metric_families

from drill.conductor.content import ImpactMetric
from drill.services import SERVICES

TIMEOUT_S = 3.0


def _scrape(http: httpx.Client, service: str) -> list[tuple[str, dict[str, str], float]]:
    response = http.get(f"{SERVICES[service].url}/metrics")
    response.raise_for_status()
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def p99(samples: list[tuple[str, dict[str, str], float]], metric: str, route: str | None) -> float:
    """The 99th percentile of a cumulative histogram since the service started, interpolated
    within its bucket as Prometheus' histogram_quantile does."""
    buckets: dict[float, float] = defaultdict(float)
    for name, labels, value in samples:
        if name == f"{metric}_bucket" and (route is None or labels.get("route") == route):
            buckets[float(labels["le"])] += value
    if not buckets:
        raise ValueError(f"no {metric} histogram for route {route}")
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total == 0:
        raise ValueError("no requests yet")
    rank = 0.99 * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return lower  # beyond the last finite bucket: its bound is what is known
            width = buckets[bound] - below
            return lower + (bound - lower) * ((rank - below) / width if width else 1)
        lower, below = bound, buckets[bound]
    return lower


def measure(metrics: tuple[ImpactMetric, ...]) -> dict[str, float]:
    """Each impact metric's current value (scaled); those that cannot be read are left out."""
    found: dict[str, float] = {}
    cache: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    with httpx.Client(timeout=TIMEOUT_S) as http:
        for item in metrics:
            try:
                for service in item.services:
                    if service not in cache:
                        cache[service] = _scrape(http, service)
                if item.kind == "p99":
                    value = p99(cache[item.services[0]], item.metric, item.route)
                else:
                    value = sum(
                        v for s in item.services for name, _l, v in cache[s] if name == item.metric
                    )
            except (httpx.HTTPError, ValueError, KeyError):
                continue  # a busy or restarting service: the next sample will do
            found[item.label] = value * item.scale
    return found


def worst(samples: list[dict[str, float]]) -> dict[str, float]:
    """The highest value each metric reached over the samples."""
    peak: dict[str, float] = {}
    for sample in samples:
        for label, value in sample.items():
            peak[label] = max(value, peak.get(label, value))
    return peak


def describe(metric: ImpactMetric, value: float) -> str:
    """A value with its unit."""
    if value == 0 or abs(value) >= 100 or float(value).is_integer():
        shown = f"{value:,.0f}"
    else:
        shown = f"{value:.3g}"  # float drift is real and tiny: 0.00000012 cents, not 0
    return f"{shown} {metric.unit}".strip()
