"""Per-request work counting: statements run in worker threads count against their request."""

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from services.kit.db import make_engine
from services.orders.request_work import RequestWorkMiddleware, WorkMetrics, count_statements


def test_statements_in_sync_handlers_are_counted_per_request_without_begin(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'work.db'}", "test")
    count_statements(engine)
    app = FastAPI()
    registry = CollectorRegistry()
    app.add_middleware(RequestWorkMiddleware, metrics=WorkMetrics(registry))

    @app.get("/work/{n}")
    def work(n: int) -> dict[str, int]:
        # A sync handler: FastAPI runs it in a worker thread, as the orders routes' DB code.
        with engine.begin() as conn:
            for _ in range(n):
                conn.execute(text("SELECT 1"))
        return {"n": n}

    async def send() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
            for n in (1, 7):
                assert (await client.get(f"/work/{n}")).status_code == 200

    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))  # outside any request: not counted
    asyncio.run(send())

    labels = {"route": "/work/{n}"}
    assert registry.get_sample_value("orders_db_queries_per_request_sum", labels) == 8
    assert registry.get_sample_value("orders_db_queries_per_request_count", labels) == 2
    assert registry.get_sample_value("orders_catalog_calls_per_request_sum", labels) == 0
    engine.dispose()


def test_each_response_says_what_its_request_cost_in_a_server_timing_header(
    tmp_path: Path,
) -> None:
    """Statements, the rows they returned (fetched one by one on SQLite), and catalog calls, on
    the response of the request that caused them, so a client can read its own request's cost."""
    engine = make_engine(f"sqlite:///{tmp_path / 'work.db'}", "test")
    count_statements(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1), (2), (3), (4), (5)"))
    app = FastAPI()
    app.add_middleware(RequestWorkMiddleware, metrics=WorkMetrics(CollectorRegistry()))

    @app.get("/rows/{n}")
    def rows(n: int) -> dict[str, int]:
        with engine.connect() as conn:
            fetched = conn.execute(text("SELECT x FROM t ORDER BY x")).fetchmany(n)
            conn.execute(text("SELECT 1")).fetchall()
        return {"n": len(fetched)}

    async def send() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
            return [(await client.get(f"/rows/{n}")).headers["server-timing"] for n in (2, 5)]

    assert asyncio.run(send()) == [
        "db;count=2;rows=3, catalog;count=0",
        "db;count=2;rows=6, catalog;count=0",
    ]
    engine.dispose()
