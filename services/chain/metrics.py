"""The chain's own metrics, beside the kit's, in the app's registry.

`ChainWorkersSaturated` fires on chain_workers_busy / chain_workers_max; `ChainUpstreamTimeouts`
on rate(chain_upstream_timeouts_total); queued requests show who is waiting for a worker.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge


class ChainMetrics:
    """Worker pool occupancy and outbound calls of one chain service."""

    def __init__(self, registry: CollectorRegistry, service: str, pool_size: int) -> None:
        self.service = service
        self.workers_max = Gauge(
            "chain_workers_max",
            "Size of the worker pool: requests the service serves at once.",
            ["service"],
            registry=registry,
        )
        self.workers_max.labels(service).set(pool_size)
        self.workers_busy = Gauge(
            "chain_workers_busy",
            "Workers serving a request right now (saturated when equal to chain_workers_max).",
            ["service"],
            registry=registry,
        )
        # Published from the start, so the saturation ratio has a series before the first request.
        self.workers_busy.labels(service).set(0)
        self.workers_queued = Gauge(
            "chain_workers_queued",
            "Requests waiting for a free worker, by the service that sent them.",
            ["service", "caller"],
            registry=registry,
        )
        self.upstream_calls = Counter(
            "chain_upstream_calls",
            "Calls to another chain service, by caller, callee and outcome.",
            ["caller", "callee", "outcome"],
            registry=registry,
        )
        self.upstream_timeouts = Counter(
            "chain_upstream_timeouts",
            "Calls to another chain service that got no answer in time, by caller and callee.",
            ["caller", "callee"],
            registry=registry,
        )
        self.upstream_wait = Gauge(
            "chain_upstream_waiting",
            "Requests of this service waiting right now for an answer from a callee.",
            ["caller", "callee"],
            registry=registry,
        )
