"""The drill journal: drills and their events, in the drill log (SQLite, drill.datadir).

The file is shared: other features keep their own tables in it, so this module creates only its
own `conductor_*` tables (create_all never drops or alters a table it does not know). Every write
is one transaction: a failure leaves the journal as it was, never half a drill.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ForeignKey, String, Text, create_engine, event, select
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from drill.datadir import drill_log_path
from drill.processes import Process
from drill.running import DRILLS_TABLE

# Event kinds, in the order a drill usually records them.
STARTED = "started"
ALERT = "alert"
HINT = "hint"
DIAGNOSIS = "diagnosis"
IMPACT = "impact"
VERIFY = "verify"
ENDED = "ended"


class JournalError(Exception):
    """The drill log cannot be read or written; the message says which file and why."""


class DrillActive(JournalError):
    """A drill is already running: one at a time per drill log."""


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime stored as ISO 8601 text: SQLite has no timezone-aware type, and
    text sorts and reads the same everywhere."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else value.astimezone(UTC).isoformat()

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


class Base(DeclarativeBase):
    """The conductor's own tables (own metadata: never the other features')."""


class DrillRow(Base):
    __tablename__ = DRILLS_TABLE  # drill.running reads it too

    id: Mapped[int] = mapped_column(primary_key=True)
    team: Mapped[str] = mapped_column(String(100), index=True)
    scenario: Mapped[str] = mapped_column(String(100))
    root: Mapped[str] = mapped_column(Text)  # the lab tree the drill runs against
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    load_pid: Mapped[int | None] = mapped_column(default=None)
    run_dir: Mapped[str] = mapped_column(Text)  # the drill's Locust log and CSV stats
    events: Mapped[list["EventRow"]] = relationship(order_by="EventRow.id")


class EventRow(Base):
    __tablename__ = "conductor_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey(f"{DRILLS_TABLE}.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[str] = mapped_column(Text, default="{}")  # JSON


@dataclass(frozen=True)
class Event:
    """One thing that happened during a drill."""

    at: datetime
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Drill:
    """A drill as the journal holds it (a snapshot: read again to see later events)."""

    id: int
    team: str
    scenario: str
    root: Path
    started_at: datetime
    ended_at: datetime | None
    load_pid: int | None
    run_dir: Path
    events: list[Event] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Not ended yet."""
        return self.ended_at is None

    def of_kind(self, kind: str) -> list[Event]:
        """Its events of one kind, oldest first."""
        return [e for e in self.events if e.kind == kind]

    @property
    def load_process(self) -> Process | None:
        """The drill's load process while it runs: its pid, and the start time recorded with it
        (in the `load` event that set the pid; None in a drill log older than that)."""
        if self.load_pid is None:
            return None
        started = None
        for load in self.of_kind("load"):
            if load.data.get("pid") == self.load_pid:
                value = load.data.get("started")
                started = value if isinstance(value, int) else None
        return Process(self.load_pid, started)


def _snapshot(row: DrillRow) -> Drill:
    return Drill(
        id=row.id,
        team=row.team,
        scenario=row.scenario,
        root=Path(row.root),
        started_at=row.started_at,
        ended_at=row.ended_at,
        load_pid=row.load_pid,
        run_dir=Path(row.run_dir),
        events=[Event(e.at, e.kind, json.loads(e.data)) for e in row.events],
    )


def _engine(path: Path) -> Engine:
    # timeout: another `drill` command (a `drill watch` beside a `drill hint`) may hold the lock.
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 15})

    @event.listens_for(engine, "connect")
    def _foreign_keys(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA foreign_keys=ON")

    return engine


class Journal:
    """Reads and writes drills in the drill log."""

    def __init__(self, path: Path | None = None) -> None:
        try:
            self.path = path or drill_log_path()
        except OSError as exc:
            raise JournalError(f"cannot make the drill log's folder: {exc}") from exc
        try:
            self.engine = _engine(self.path)
            Base.metadata.create_all(self.engine)  # creates only what is missing
        except SQLAlchemyError as exc:
            raise JournalError(f"cannot open the drill log {self.path}: {exc}") from exc

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise JournalError(f"the drill log {self.path} failed: {exc}") from exc

    def start(self, *, team: str, scenario: str, root: Path, at: datetime, run_dir: Path) -> Drill:
        """Record a new drill, unless one is already running (checked in the same
        transaction)."""
        with self._session() as session:
            running = session.scalars(
                select(DrillRow).where(DrillRow.ended_at.is_(None)).limit(1)
            ).first()
            if running is not None:
                raise DrillActive(
                    f"drill #{running.id} ({running.scenario}, team {running.team}) is still "
                    "running; close it first: drill end"
                )
            row = DrillRow(
                team=team, scenario=scenario, root=str(root), started_at=at, run_dir=str(run_dir)
            )
            session.add(row)
            session.flush()
            session.add(EventRow(drill_id=row.id, at=at, kind=STARTED, data="{}"))
            session.flush()
            session.refresh(row)
            return _snapshot(row)

    def set_load(self, drill_id: int, pid: int | None, data: dict[str, Any], at: datetime) -> None:
        """Remember the drill's load process (None once stopped)."""
        with self._session() as session:
            row = session.get_one(DrillRow, drill_id)
            row.load_pid = pid
            session.add(EventRow(drill_id=drill_id, at=at, kind="load", data=json.dumps(data)))

    def record(self, drill_id: int, kind: str, at: datetime, data: dict[str, Any]) -> None:
        """Append one event to a drill."""
        with self._session() as session:
            session.add(EventRow(drill_id=drill_id, at=at, kind=kind, data=json.dumps(data)))

    def end(self, drill_id: int, at: datetime, data: dict[str, Any]) -> None:
        """Close a drill."""
        with self._session() as session:
            row = session.get_one(DrillRow, drill_id)
            row.ended_at = at
            row.load_pid = None
            session.add(EventRow(drill_id=drill_id, at=at, kind=ENDED, data=json.dumps(data)))

    def active(self) -> Drill | None:
        """The running drill, if any."""
        with self._session() as session:
            row = session.scalars(
                select(DrillRow).where(DrillRow.ended_at.is_(None)).order_by(DrillRow.id.desc())
            ).first()
            return None if row is None else _snapshot(row)

    def get(self, drill_id: int) -> Drill | None:
        """One drill by id."""
        with self._session() as session:
            row = session.get(DrillRow, drill_id)
            return None if row is None else _snapshot(row)

    def latest(self) -> Drill | None:
        """The most recent drill, running or not."""
        with self._session() as session:
            row = session.scalars(select(DrillRow).order_by(DrillRow.id.desc())).first()
            return None if row is None else _snapshot(row)

    def drills(self, team: str | None = None) -> list[Drill]:
        """Every drill (of one team), oldest first."""
        with self._session() as session:
            query = select(DrillRow).order_by(DrillRow.id)
            if team is not None:
                query = query.where(DrillRow.team == team)
            return [_snapshot(row) for row in session.scalars(query)]
