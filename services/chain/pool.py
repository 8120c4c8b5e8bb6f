"""A fixed pool of workers in front of the chain's handlers, as a sync server (gunicorn's sync
workers, a bounded thread pool) would have: at most `size` requests are served at once and the
rest wait in line, first come first served."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request

from services.chain.metrics import ChainMetrics
from services.kit.logging import fields

logger = logging.getLogger("chain.pool")

CALLER_HEADER = "X-Chain-Caller"
"""Names the chain service that sent a request (absent: an outside client)."""


def caller_of(request: Request) -> str:
    """The chain service that sent the request, or "client"."""
    return request.headers.get(CALLER_HEADER, "client")


class WorkerPool:
    """Admits at most `size` requests at once; the others wait for a worker to come free."""

    def __init__(self, size: int, metrics: ChainMetrics) -> None:
        self.size = size
        self.metrics = metrics
        self.busy = 0
        self._slots = asyncio.Semaphore(size)

    @asynccontextmanager
    async def worker(self, request: Request) -> AsyncIterator[None]:
        """Hold one worker while the block runs, waiting in line for it if all are busy."""
        service = self.metrics.service
        caller = caller_of(request)
        if self.busy >= self.size:
            # One line per queued request: under saturation the log shows who waits on whom.
            logger.warning(
                "all %d workers of %s are busy: %s %s from %s waits for a worker",
                self.size,
                service,
                request.method,
                request.url.path,
                caller,
                extra=fields(
                    "workers_saturated",
                    service=service,
                    caller=caller,
                    path=request.url.path,
                    busy=self.busy,
                    pool_size=self.size,
                ),
            )
        queued = self.metrics.workers_queued.labels(service, caller)
        queued.inc()
        try:
            await self._slots.acquire()
        finally:
            queued.dec()
        self.busy += 1
        busy = self.metrics.workers_busy.labels(service)
        busy.inc()
        try:
            yield
        finally:
            self.busy -= 1
            busy.dec()
            self._slots.release()
