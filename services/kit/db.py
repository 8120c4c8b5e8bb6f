"""SQLAlchemy 2 engines and sessions: SQLite by default, PostgreSQL when DATABASE_URL names it."""

import hashlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.schema import CreateIndex, CreateTable

from services.kit.logging import fields
from services.kit.telemetry import instrument_engine

# Seconds a connection attempt or a wait for SQLite's write lock may take before giving up.
DB_TIMEOUT_S = 5
# FastAPI runs sync handlers in AnyIO's thread pool, which has 40 threads.
WORKER_THREADS = 40
# The widest value an INTEGER column holds on every database of the lab (32 bits on PostgreSQL,
# which the driver binds as INTEGER: a wider value is an "out of range" error, a 500). Ids and
# cursors a client sends are bounded by it before any query.
INTEGER_MAX = 2**31 - 1

logger = logging.getLogger("kit.db")


class Base(DeclarativeBase):
    """Declarative base of every service's models (each service keeps its own tables)."""


def make_engine(url: str, service: str) -> Engine:
    """An engine for the URL, traced, with settings that hold up under concurrent requests."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection per worker thread, kept open: opening a SQLite connection (and setting
        # its pragmas) under load costs more than the query it is opened for.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": DB_TIMEOUT_S},
            pool_size=WORKER_THREADS,
            max_overflow=0,
            pool_timeout=DB_TIMEOUT_S,
        )
        _serialize_sqlite_writes(engine)
    else:
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            pool_timeout=DB_TIMEOUT_S,
            # Session settings (search_path, synchronous_commit) come in the URL's `options`
            # (drill/database.py, docker-compose.yml): an `options` here would replace them.
            connect_args={"connect_timeout": DB_TIMEOUT_S},
        )
    instrument_engine(engine, service)
    return engine


def _serialize_sqlite_writes(engine: Engine) -> None:
    """Give SQLite writers a fair, prompt turn at the database's single write lock.

    pysqlite's default (deferred) transactions fail at once with "database is locked" when two
    threads read and then write, so every write transaction begins with BEGIN IMMEDIATE
    (SQLAlchemy's documented recipe). SQLite's own busy handler then makes waiting writers poll
    with sleeps of up to 100 ms, which shows as a long latency tail under concurrent load, so
    writers first queue on a lock in this process, which wakes the next one as soon as it is free.
    Readers (see read_only_sessions) take no lock at all: under WAL they read a snapshot.
    """
    write_lock = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("read_only", False):
            conn.exec_driver_sql("BEGIN")
            return
        if not write_lock.acquire(timeout=DB_TIMEOUT_S):
            raise sa_exc.OperationalError(
                "BEGIN IMMEDIATE", None, TimeoutError("waited too long for the write lock")
            )
        conn.info["holds_write_lock"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _release(conn: Connection) -> None:
        if conn.info.pop("holds_write_lock", False):
            write_lock.release()


def schema_fingerprint(engine: Engine, metadata: MetaData) -> str:
    """A digest of the DDL the models ask for on this database: tables, columns, constraints and
    indexes. Any change to the models changes it."""
    ddl = [str(CreateTable(table).compile(engine)) for table in metadata.sorted_tables]
    for table in metadata.sorted_tables:
        indexes = sorted(table.indexes, key=lambda index: index.name or "")
        ddl += [str(CreateIndex(index).compile(engine)) for index in indexes]
    return hashlib.sha256("\n".join(ddl).encode()).hexdigest()


def _resets_table(service: str) -> Table:
    """One row: the reset the lab last asked this service for, and the schema it made then. A
    table per service (their own MetaData, never dropped with their tables' reset), since
    services of the local lab may share one database."""
    return Table(
        f"lab_reset_{service}",
        MetaData(),
        Column("token", String(64), primary_key=True),
        Column("schema", String(64), nullable=False),
    )


def prepare_schema(engine: Engine, metadata: MetaData, *, service: str, reset_token: str) -> bool:
    """Create the service's tables that do not exist yet; in the lab, drop them first (so that
    the seed loads again) when needed. True when the tables were reset.

    The lab gives each start it asks for a fresh RESET token (`DB_RESET_TOKEN`: `drill up`, a
    drill's start, reset or solve). A service resets when the token is not the one it last reset
    for, or when the models' tables are not those in the database (a change to the models: the
    old tables would not fit). A reload on a saved edit keeps the token, and so the data a team is
    studying. No token (outside the lab): never reset. Only the service's own tables go.
    """
    if not reset_token:
        metadata.create_all(bind=engine)
        return False
    resets = _resets_table(service)
    resets.create(bind=engine, checkfirst=True)
    fingerprint = schema_fingerprint(engine, metadata)
    with engine.connect() as conn:
        last = conn.execute(select(resets.c.token, resets.c.schema)).first()
    asked = last is None or last.token != reset_token
    changed = last is not None and last.schema != fingerprint
    if asked or changed:
        metadata.drop_all(bind=engine)
    metadata.create_all(bind=engine)
    if not (asked or changed):
        return False
    with engine.begin() as conn:
        conn.execute(delete(resets))
        conn.execute(insert(resets).values(token=reset_token, schema=fingerprint))
    why = "the models changed" if changed and not asked else "a reset was asked for"
    logger.info("tables reset", extra=fields(why=why))
    return True


def check_database(engine: Engine) -> None:
    """Readiness check: one round trip to the database."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """The session factory a service keeps in `app.state.sessions`."""
    return sessionmaker(engine, expire_on_commit=False)


def read_only_sessions(engine: Engine, *, snapshot: bool = False) -> sessionmaker[Session]:
    """Sessions for long reads (reports, reconciliation) that must not hold up writers. With
    `snapshot`, each reads one snapshot from its first statement to its last, so a report of two
    queries never sees a write land between them: SQLite under WAL gives that to any
    transaction, PostgreSQL's default (READ COMMITTED) does not, so it reads REPEATABLE READ."""
    options: dict[str, Any] = {"read_only": True}
    if snapshot and engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    return sessionmaker(engine.execution_options(**options), expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, closed when the response is sent."""
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
