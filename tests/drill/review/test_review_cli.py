"""`drill review` as a trainee and an instructor run it: a real subprocess each time."""

import sqlite3
from pathlib import Path

from drill.datadir import drill_log_path
from tests.conftest import drill, submit_review


def test_list_and_show_present_the_pull_request_without_its_answer_key(tmp_path: Path) -> None:
    listed = drill(tmp_path, "review", "list")
    shown = drill(tmp_path, "review", "show", "pr-04")

    assert listed.returncode == 0 and "pr-09" in listed.stdout
    assert shown.returncode == 0, shown.stderr
    assert "orders: resilient catalog lookups" in shown.stdout
    # Numbered as in the file after the change: the LINE a finding names.
    assert "  155 +        transport=httpx.RetryTransport(" in shown.stdout
    assert "hallucinated" not in shown.stdout.split("Submit:")[0]


def test_submit_scores_records_and_shows_the_detection_rate(tmp_path: Path) -> None:
    result = submit_review(
        tmp_path,
        "pr-07",
        "red",
        "services/billing/receipts.py:20:string-built-sql-or-shell",
        "services/billing/receipts.py:5:float-money",
    )

    assert result.returncode == 0, result.stderr
    assert "found 1 of 2 planted, missed 1, false alarms 1" in result.stdout
    assert "Detection rate of red: 50%" in result.stdout
    with sqlite3.connect(drill_log_path()) as db:
        verdicts = db.execute("SELECT item, verdict FROM review_findings ORDER BY id").fetchall()
    assert verdicts == [("string-built-sql-or-shell", "found"), ("float-money", "false-alarm")]
    score = drill(tmp_path, "review", "score", "--team", "red")
    assert "detection rate 50%" in score.stdout
    listed = drill(tmp_path, "review", "list", "--team", "red")
    assert "1/2" in listed.stdout


def test_unknown_pull_request_and_malformed_findings_are_bad_usage(tmp_path: Path) -> None:
    unknown = drill(tmp_path, "review", "show", "pr-99")
    malformed = drill(tmp_path, "review", "submit", "pr-01", "--team", "red", "--finding", "x.py")
    bad_item = drill(
        tmp_path, "review", "submit", "pr-01", "--team", "red", "--finding", "x.py:3:typo"
    )
    no_team = drill(tmp_path, "review", "submit", "pr-01", "--team", " ")

    assert unknown.returncode == 2 and "no pull request 'pr-99'" in unknown.stderr
    assert malformed.returncode == 2 and "is not FILE:LINE:ITEM" in malformed.stderr
    assert bad_item.returncode == 2 and "unknown checklist item 'typo'" in bad_item.stderr
    assert no_team.returncode == 2 and "--team" in no_team.stderr
    assert not drill_log_path().exists() or _submissions() == 0


def test_only_a_teams_first_review_of_a_pull_request_counts(tmp_path: Path) -> None:
    found_one = "services/billing/receipts.py:20:string-built-sql-or-shell"
    first = submit_review(tmp_path, "pr-07", "red", found_one)
    empty = submit_review(tmp_path, "pr-07", "red")
    again = submit_review(
        tmp_path, "pr-07", "red", found_one, "services/billing/receipts.py:27:unlogged-error-path"
    )
    score = drill(tmp_path, "review", "score", "--team", "red")

    assert first.returncode == 0 and "Detection rate of red: 50%" in first.stdout
    assert empty.returncode == 2 and "--finding" in empty.stderr
    assert again.returncode == 0, again.stderr
    assert "only red's first review of pr-07 counts" in again.stdout
    assert "Detection rate of red: 50%" in again.stdout
    assert "1 submission(s), found 1 of 2" in score.stdout
    assert _submissions() == 2


def test_a_broken_drill_log_is_exit_1_naming_it(tmp_path: Path, drill_data_dir: Path) -> None:
    drill_data_dir.mkdir(parents=True, exist_ok=True)
    (drill_data_dir / "drill.db").write_bytes(b"not a database, just bytes" * 100)

    result = drill(tmp_path, "review", "score", "--team", "red")

    assert result.returncode == 1
    assert "drill.db" in result.stderr and "Traceback" not in result.stderr


def _submissions() -> int:
    with sqlite3.connect(drill_log_path()) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "review_submissions" not in tables:
            return 0
        return int(db.execute("SELECT count(*) FROM review_submissions").fetchone()[0])


def test_the_instructors_key_says_where_each_fault_is_and_who_can_find_it(tmp_path: Path) -> None:
    result = drill(tmp_path, "review", "key", "pr-02")

    assert result.returncode == 0, result.stderr
    assert "rbac-mismatch services/billing/api/routes/refunds.py:12-17" in result.stdout
    assert "only a reviewer finds it" in result.stdout
    assert "float-money services/billing/schemas.py:45-45 (drill audit finds it)" in result.stdout
