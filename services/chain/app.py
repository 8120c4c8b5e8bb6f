"""The app factory of the three chain services: one factory, the service name picks the role."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from services.chain.api.routes import discounts, prices, quotes
from services.chain.downstream import Downstream
from services.chain.metrics import ChainMetrics
from services.chain.pool import WorkerPool
from services.chain.settings import ChainSettings
from services.chain.topology import CALLS, TITLES
from services.kit.app import build_service_app, healthz_probe

ROUTERS: dict[str, APIRouter] = {
    "service-a": quotes.router,
    "service-b": prices.router,
    "service-c": discounts.router,
}


def create_app(settings: ChainSettings) -> FastAPI:
    """Build the chain service named by settings.service_name (each test builds its own)."""
    name = settings.service_name
    if name not in ROUTERS:
        raise ValueError(f"SERVICE_NAME must be one of {sorted(ROUTERS)}, not {name!r}")
    callee = CALLS[name]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if callee is not None:
            app.state.downstream = Downstream(
                caller=name,
                callee=callee,
                base_url=settings.url_of(callee),
                timeout_s=settings.chain_timeout_s,
                metrics=app.state.chain_metrics,
            )
        try:
            yield
        finally:
            if app.state.downstream is not None:
                await app.state.downstream.aclose()

    readiness = {} if callee is None else {callee: healthz_probe(settings.url_of(callee))}
    app = build_service_app(
        settings,
        title=TITLES[name],
        description="A link of the checkout chain: quotes (a), pricing (b), loyalty (c).",
        routers=[ROUTERS[name]],
        readiness=readiness,
        lifespan=lifespan,
    )
    metrics = ChainMetrics(app.state.metrics.registry, name, settings.chain_max_concurrency)
    app.state.chain_metrics = metrics
    app.state.pool = WorkerPool(settings.chain_max_concurrency, metrics)
    app.state.downstream = None
    return app
