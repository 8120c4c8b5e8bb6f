"""The drill log: submissions recorded in their own tables, next to other features' tables."""

import sqlite3

from drill.datadir import drill_log_path
from drill.review import catalogue, detection_rate, store
from drill.review.scoring import parse_finding, score


def test_detection_rate_is_none_before_any_submission_then_found_over_planted() -> None:
    assert detection_rate("blue") is None
    key = catalogue.answer_key("pr-01")  # two faults
    store.record(
        "blue",
        "pr-01",
        score(key, [parse_finding("services/billing/ledger.py:90:string-built-sql-or-shell")]),
    )
    store.record("blue", "pr-05", score(catalogue.answer_key("pr-05"), []))  # one fault, missed

    assert detection_rate("blue") == 1 / 3
    assert detection_rate("green") is None
    totals = store.team_score("blue")
    assert (totals.submissions, totals.planted, totals.found) == (2, 3, 1)
    assert store.reviewed("blue") == {"pr-01": (1, 2), "pr-05": (0, 1)}


def test_recording_keeps_the_other_features_tables_and_rows() -> None:
    with sqlite3.connect(drill_log_path()) as db:
        db.execute("CREATE TABLE conductor_drills (id INTEGER PRIMARY KEY, team TEXT)")
        db.execute("INSERT INTO conductor_drills (team) VALUES ('blue')")

    store.record("blue", "pr-02", score(catalogue.answer_key("pr-02"), []))

    with sqlite3.connect(drill_log_path()) as db:
        assert db.execute("SELECT team FROM conductor_drills").fetchall() == [("blue",)]
        rows = db.execute("SELECT team, pr_id, planted, found FROM review_submissions").fetchall()
    assert rows == [("blue", "pr-02", 2, 0)]
