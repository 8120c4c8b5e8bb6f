"""The billing service's app factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.billing import ledger, seed
from services.billing.api.routes import transactions, users
from services.billing.reconciliation import Reconciler, ReconciliationMetrics
from services.billing.settings import BillingSettings
from services.kit.app import build_service_app
from services.kit.db import (
    Base,
    check_database,
    make_engine,
    make_sessions,
    prepare_schema,
    read_only_sessions,
)
from services.kit.telemetry import untraced


def create_app(settings: BillingSettings) -> FastAPI:
    """Build a billing app for these settings (each test builds its own)."""
    engine = make_engine(settings.database_url, settings.service_name)
    sessions = make_sessions(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with untraced():  # start-up work, no request's: nothing for the trace store
            prepare_schema(
                engine,
                Base.metadata,
                service=settings.service_name,
                reset_token=settings.db_reset_token,
            )
            if settings.seed_history:
                with sessions() as session:
                    first_heavy = seed.heavy_user_ids()[0]
                    if not ledger.get_balance(session, user_id=first_heavy).transaction_count:
                        ledger.load_history(session, seed.history())
        reconciler = Reconciler(
            read_only_sessions(engine, snapshot=True),
            ReconciliationMetrics(app.state.metrics.registry),
            settings.reconcile_interval_ms,
        )
        reconciler.start()
        app.state.reconciler = reconciler
        try:
            yield
        finally:
            reconciler.stop()
            engine.dispose()

    app = build_service_app(
        settings,
        title="Billing",
        description="The ledger: charges, corrections, balances and history, in exact money.",
        routers=[transactions.router, users.router],
        readiness={"database": lambda: check_database(engine)},
        lifespan=lifespan,
    )
    app.state.sessions = sessions
    app.state.engine = engine
    return app
