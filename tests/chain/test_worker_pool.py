"""The worker pool admits at most its size at once, queues the rest, and shows both in metrics."""

import asyncio

from prometheus_client import CollectorRegistry
from starlette.requests import Request

from services.chain.metrics import ChainMetrics
from services.chain.pool import CALLER_HEADER, WorkerPool


def request_from(caller: str) -> Request:
    headers = [(CALLER_HEADER.lower().encode(), caller.encode())]
    return Request({"type": "http", "method": "GET", "path": "/v1/x", "headers": headers})


def test_pool_serves_at_most_its_size_and_queues_the_rest() -> None:
    registry = CollectorRegistry()
    pool = WorkerPool(2, ChainMetrics(registry, "service-a", 2))
    peak = 0
    queued_seen = 0.0

    async def handler(release: asyncio.Event) -> None:
        nonlocal peak
        async with pool.worker(request_from("service-c")):
            peak = max(peak, pool.busy)
            await release.wait()

    async def scenario() -> None:
        nonlocal queued_seen
        release = asyncio.Event()
        tasks = [asyncio.create_task(handler(release)) for _ in range(5)]
        await asyncio.sleep(0.05)
        queued_seen = (
            registry.get_sample_value(
                "chain_workers_queued", {"service": "service-a", "caller": "service-c"}
            )
            or 0.0
        )
        assert registry.get_sample_value("chain_workers_busy", {"service": "service-a"}) == 2
        release.set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())

    assert peak == 2
    assert queued_seen == 3
    assert registry.get_sample_value("chain_workers_busy", {"service": "service-a"}) == 0
    assert registry.get_sample_value("chain_workers_max", {"service": "service-a"}) == 2
