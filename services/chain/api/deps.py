"""Dependencies the chain routes share: the worker pool and the client of the next service."""

from typing import Annotated

from fastapi import Depends, Request

from services.chain.downstream import Downstream
from services.chain.pool import WorkerPool


def _pool(request: Request) -> WorkerPool:
    pool: WorkerPool = request.app.state.pool
    return pool


def _downstream(request: Request) -> Downstream:
    downstream: Downstream | None = request.app.state.downstream
    if downstream is None:
        raise RuntimeError(f"{request.app.state.settings.service_name} calls no other service")
    return downstream


PoolDep = Annotated[WorkerPool, Depends(_pool)]
DownstreamDep = Annotated[Downstream, Depends(_downstream)]
