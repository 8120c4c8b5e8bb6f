"""The drill journal: one drill at a time, transactional writes, and other features' tables in
the same SQLite file left alone."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drill.conductor import conduct
from drill.conductor.alerts import Alert, AlertReading
from drill.conductor.journal import ALERT, HINT, DrillActive, Journal
from drill.processes import Process
from drill.running import RunningDrill, running_drill

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def start(journal: Journal, tmp_path: Path, team: str = "red") -> int:
    drill = journal.start(
        team=team, scenario="float-drift", root=tmp_path, at=T0, run_dir=tmp_path / "run"
    )
    return drill.id


def test_a_drill_is_recorded_with_its_events_and_closed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "drill.db")
    drill_id = start(journal, tmp_path)
    journal.record(drill_id, HINT, T0 + timedelta(minutes=7), {"number": 1})
    journal.end(drill_id, T0 + timedelta(minutes=50), {})

    drill = Journal(tmp_path / "drill.db").get(drill_id)  # read back through a fresh engine

    assert drill is not None and not drill.active
    assert [e.kind for e in drill.events] == ["started", "hint", "ended"]
    assert drill.of_kind(HINT)[0].at == T0 + timedelta(minutes=7)
    assert drill.started_at.tzinfo is not None


def test_a_second_drill_cannot_start_while_one_runs_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "drill.db")
    first = start(journal, tmp_path)

    with pytest.raises(DrillActive, match="drill end"):
        start(journal, tmp_path, team="blue")

    assert [d.id for d in journal.drills()] == [first]
    assert journal.drills("blue") == []


def test_other_features_tables_in_the_drill_log_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "drill.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE review_submissions (id INTEGER PRIMARY KEY, verdict TEXT)")
        db.execute("INSERT INTO review_submissions (verdict) VALUES ('caught')")

    start(Journal(path), tmp_path)
    Journal(path)  # opening again creates nothing twice and drops nothing

    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT verdict FROM review_submissions").fetchall()
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert rows == [("caught",)]
    assert {"review_submissions", "conductor_drills", "conductor_events"} <= tables


def test_a_failed_write_leaves_the_journal_as_it_was(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "drill.db")
    drill_id = start(journal, tmp_path)

    with pytest.raises(TypeError):
        journal.record(drill_id, HINT, T0, {"not json": object()})

    drill = journal.get(drill_id)
    assert drill is not None and [e.kind for e in drill.events] == ["started"]


def test_each_alert_is_recorded_once_from_when_it_fired_but_never_before_the_drill(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "drill.db")
    drill_id = start(journal, tmp_path)
    reading = AlertReading(
        "Prometheus",
        [
            Alert("BillingDoubleCharge", "critical", T0 + timedelta(minutes=2), ""),
            Alert("ServiceDown", "critical", T0 - timedelta(hours=1), ""),  # from before
        ],
    )

    for _ in range(2):  # a second status sees the same alerts: nothing new
        drill = journal.get(drill_id)
        assert drill is not None
        conduct.note_alerts(journal, drill, reading)

    drill = journal.get(drill_id)
    assert drill is not None
    alerts = {e.data["name"]: e.at for e in drill.of_kind(ALERT)}
    assert alerts == {"BillingDoubleCharge": T0 + timedelta(minutes=2), "ServiceDown": T0}


def test_the_running_drill_guard_reads_what_the_journal_wrote(tmp_path: Path) -> None:
    """drill.running (below the conductor, for the audit and review commands) sees the drill the
    journal started, and nothing once it ended; a missing or broken log is no drill."""
    path = tmp_path / "drill.db"
    assert running_drill(path) is None
    journal = Journal(path)
    drill_id = start(journal, tmp_path)
    assert running_drill(path) == RunningDrill(drill_id, "float-drift", "red")
    journal.end(drill_id, T0, {})
    assert running_drill(path) is None
    broken = tmp_path / "broken.db"
    broken.write_text("not a database")
    assert running_drill(broken) is None


def test_the_load_process_carries_the_start_time_recorded_with_its_pid(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "drill.db")
    drill_id = start(journal, tmp_path)
    journal.set_load(drill_id, 4242, {"pid": 4242, "started": 987654, "users": 2}, T0)
    drill = journal.get(drill_id)
    assert drill is not None and drill.load_process == Process(4242, 987654)
    journal.set_load(drill_id, None, {"stopped": True}, T0)
    stopped = journal.get(drill_id)
    assert stopped is not None and stopped.load_process is None
