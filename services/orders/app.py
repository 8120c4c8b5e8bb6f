"""The orders service's app factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import func, select

from services.kit.app import build_service_app, healthz_probe
from services.kit.db import Base, check_database, make_engine, prepare_schema, read_only_sessions
from services.kit.telemetry import untraced
from services.orders import seed
from services.orders.api.routes import orders, users
from services.orders.models import User
from services.orders.request_work import (
    RequestWorkMiddleware,
    WorkMetrics,
    catalog_client,
    count_statements,
)
from services.orders.settings import OrdersSettings


def create_app(settings: OrdersSettings) -> FastAPI:
    """Build an orders app for these settings (each test builds its own)."""
    engine = make_engine(settings.database_url, settings.service_name)
    count_statements(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with untraced():  # start-up work, no request's: nothing for the trace store
            prepare_schema(
                engine,
                Base.metadata,
                service=settings.service_name,
                reset_token=settings.db_reset_token,
            )
            if settings.seed_data:
                with engine.begin() as conn:
                    if not conn.scalar(select(func.count()).select_from(User)):
                        seed.load(conn, seed.seed_data())
        app.state.catalog = catalog_client(settings.catalog_url, settings.catalog_timeout_s)
        try:
            yield
        finally:
            app.state.catalog.close()
            engine.dispose()

    app = build_service_app(
        settings,
        title="Orders",
        description="Users' orders and order lines, priced through the catalog.",
        routers=[orders.router, users.router],
        readiness={
            "database": lambda: check_database(engine),
            "catalog": healthz_probe(settings.catalog_url),
        },
        lifespan=lifespan,
    )
    app.add_middleware(RequestWorkMiddleware, metrics=WorkMetrics(app.state.metrics.registry))
    # Every read here is a read: none of them should queue for SQLite's write lock.
    app.state.sessions = read_only_sessions(engine)
    app.state.engine = engine
    return app
