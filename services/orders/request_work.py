"""How much work each request causes: database statements, the rows they return, and catalog
calls, counted per request and published three ways: histograms by route, one log line per
request, and a Server-Timing header on the response itself, so that whoever sent a request can
read what that one request cost (`curl -si ... | grep -i server-timing`):

    Server-Timing: db;count=3;rows=57, catalog;count=1

The counters ride in a ContextVar, which FastAPI copies into the worker threads that run sync
code, so a statement is counted against the request that caused it wherever it runs. Statements
and rows are counted with SQLAlchemy engine events and catalog calls with an httpx event hook,
so no handler has to remember to count anything.
"""

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Histogram
from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.logging import fields
from services.kit.middleware import QUIET_PATHS

logger = logging.getLogger("orders.work")
# Counts, not seconds: a batch should cost a handful of statements and catalog calls.
COUNT_BUCKETS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000)
ROW_BUCKETS = (10, 100, 1_000, 10_000, 100_000)
# Beyond this many statements for one request, the log line is a warning.
MANY_STATEMENTS = 50


@dataclass
class RequestWork:
    """What one request has cost so far."""

    db_queries: int = 0
    db_rows: int = 0
    catalog_calls: int = 0

    @property
    def server_timing(self) -> str:
        """The counts as a Server-Timing header value."""
        return f"db;count={self.db_queries};rows={self.db_rows}, catalog;count={self.catalog_calls}"


_current: ContextVar[RequestWork | None] = ContextVar("orders_request_work", default=None)


class WorkMetrics:
    """Per-request work histograms, in the service's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.db_queries = Histogram(
            "orders_db_queries_per_request",
            "Database statements one HTTP request ran (transaction control excluded), by route.",
            ["route"],
            buckets=COUNT_BUCKETS,
            registry=registry,
        )
        self.db_rows = Histogram(
            "orders_db_rows_per_request",
            "Rows the database returned to one HTTP request, by route.",
            ["route"],
            buckets=ROW_BUCKETS,
            registry=registry,
        )
        self.catalog_calls = Histogram(
            "orders_catalog_calls_per_request",
            "HTTP calls to the catalog one HTTP request made, by route.",
            ["route"],
            buckets=COUNT_BUCKETS,
            registry=registry,
        )


def count_statements(engine: Engine) -> None:
    """Count every statement the engine runs, and the rows it returns, against the request that
    is running it."""

    @event.listens_for(engine, "before_cursor_execute")
    def _count(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        work = _current.get()
        # BEGIN is the kit's transaction control, not a query a handler asked for.
        if work is not None and not statement.lstrip().upper().startswith("BEGIN"):
            work.db_queries += 1

    @event.listens_for(engine, "after_cursor_execute")
    def _rows(
        _conn: Any, cursor: Any, _statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        work = _current.get()
        if work is not None and cursor.description is not None:
            _count_rows(cursor, work)


def _count_rows(cursor: Any, work: RequestWork) -> None:
    """Add the rows a query returns to the request's count. PostgreSQL's driver has received them
    all when the statement returns (rowcount says how many); SQLite and server-side cursors hand
    them over one by one, so the cursor's row factory counts them as they are fetched."""
    if cursor.rowcount >= 0:
        work.db_rows += cursor.rowcount
        return
    inner = cursor.row_factory
    if type(cursor).__module__.startswith("sqlite3"):

        def sqlite_row(cur: Any, row: tuple[Any, ...]) -> Any:
            work.db_rows += 1
            return inner(cur, row) if inner is not None else row

        cursor.row_factory = sqlite_row
        return

    def psycopg_rows(cur: Any) -> Any:
        make = inner(cur)

        def row(values: Any) -> Any:
            work.db_rows += 1
            return make(values)

        return row

    cursor.row_factory = psycopg_rows


def _note_catalog_call() -> None:
    work = _current.get()
    if work is not None:
        work.catalog_calls += 1


def _count_call(_request: httpx.Request) -> None:
    _note_catalog_call()


async def _count_call_async(_request: httpx.Request) -> None:
    _note_catalog_call()


def catalog_client(base_url: str, timeout_s: float) -> httpx.Client:
    """A blocking catalog client whose calls are counted per request."""
    return httpx.Client(
        base_url=base_url, timeout=timeout_s, event_hooks={"request": [_count_call]}
    )


def async_catalog_client(base_url: str, timeout_s: float) -> httpx.AsyncClient:
    """A non-blocking catalog client whose calls are counted per request."""
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout_s,
        limits=limits,
        event_hooks={"request": [_count_call_async]},
    )


class RequestWorkMiddleware:
    """Opens a fresh count for every HTTP request and publishes it when the request ends."""

    def __init__(self, app: ASGIApp, metrics: WorkMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        work = RequestWork()
        token = _current.set(work)

        async def send_with_counts(message: Message) -> None:
            # The handler has finished by the time the response starts: the counts are final.
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("server-timing", work.server_timing)
            await send(message)

        try:
            await self.app(scope, receive, send_with_counts)
        finally:
            _current.reset(token)
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.db_queries.labels(route).observe(work.db_queries)
            self.metrics.db_rows.labels(route).observe(work.db_rows)
            self.metrics.catalog_calls.labels(route).observe(work.catalog_calls)
            level = logging.WARNING if work.db_queries > MANY_STATEMENTS else logging.INFO
            logger.log(
                level,
                "request work",
                extra=fields(
                    "many_statements" if level == logging.WARNING else None,
                    route=route,
                    db_queries=work.db_queries,
                    db_rows=work.db_rows,
                    catalog_calls=work.catalog_calls,
                ),
            )
