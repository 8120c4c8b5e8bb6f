"""The conductor's commands as real `drill` subprocesses, without a lab: usage errors, exit codes,
and a drill seeded straight into the journal so that time can be set, not slept through."""

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drill.conductor import content
from drill.conductor.journal import Journal
from tests.conftest import drill, submit_review

# A port offset nobody uses: no lab, Prometheus or Alertmanager of this machine answers on it.
NOBODY = {"DRILL_PORT_OFFSET": "17"}
T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def at(minutes: float) -> dict[str, str]:
    """The environment that puts the conductor's clock `minutes` into the seeded drill."""
    return {**NOBODY, "DRILL_NOW": (T0 + timedelta(minutes=minutes)).isoformat()}


@pytest.fixture
def seeded(tree: Path) -> Path:
    """A drill of team red on float-drift, started at T0, with no load process."""
    Journal().start(
        team="red", scenario="float-drift", root=tree, at=T0, run_dir=tree / ".drill" / "run"
    )
    return tree


@pytest.mark.parametrize("command", ["status", "watch", "hint", "diagnose", "end"])
def test_without_a_running_drill_each_command_says_how_to_start_one(
    tree: Path, command: str
) -> None:
    result = drill(tree, command, env=NOBODY)

    assert result.returncode == 2
    assert "no drill is running" in result.stderr and "drill start" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [("audit",), ("review", "key", "pr-02")])
def test_what_names_the_faults_waits_until_the_drill_ends(
    seeded: Path, command: tuple[str, ...]
) -> None:
    during = drill(seeded, *command, env=at(10))
    assert drill(seeded, "end", env=at(50)).returncode == 0
    after = drill(seeded, *command, env=at(55))

    assert during.returncode == 2 and "drill #1 is running" in during.stderr
    assert "float-money" not in during.stdout
    assert after.returncode in (0, 1) and "float-money" in after.stdout, after.stderr


def test_verify_is_graded_even_when_the_drill_log_cannot_be_opened(
    tree: Path, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")

    result = drill(
        tree, "verify", "float-drift", env={**NOBODY, "DRILL_DATA_DIR": str(not_a_folder)}
    )

    # No lab on this offset: the grader's own answer (exit 2), with a warning, not a traceback.
    assert result.returncode == 2
    assert "not recorded in the drill log" in result.stderr
    assert "Traceback" not in result.stderr


def test_start_needs_one_scenario_or_random(tree: Path) -> None:
    assert drill(tree, "start", env=NOBODY).returncode == 2
    both = drill(tree, "start", "float-drift", "--random", env=NOBODY)
    assert both.returncode == 2 and "--random" in both.stderr
    unknown = drill(tree, "start", "no-such-drill", env=NOBODY)
    assert unknown.returncode == 2 and "unknown drill 'no-such-drill'" in unknown.stderr


def test_start_without_a_lab_is_exit_2_says_drill_up_and_records_nothing(tree: Path) -> None:
    result = drill(tree, "start", "float-drift", "--team", "red", env=NOBODY)

    assert result.returncode == 2
    assert "billing does not answer" in result.stderr and "drill up" in result.stderr
    assert Journal().drills() == []


def test_a_bad_clock_hook_is_bad_usage(tree: Path) -> None:
    result = drill(tree, "status", env={**NOBODY, "DRILL_CLOCK_OFFSET": "soon"})

    assert result.returncode == 2
    assert "DRILL_CLOCK_OFFSET" in result.stderr


def test_report_and_postmortem_with_an_empty_drill_log(tree: Path) -> None:
    reported = drill(tree, "report", "--team", "red", env=NOBODY)
    written = drill(tree, "postmortem", env=NOBODY)

    assert reported.returncode == 0 and "No drills yet for team red" in reported.stdout
    assert written.returncode == 2 and "no drill" in written.stderr


def test_report_shows_a_teams_review_detection_rate_beside_its_drills(tree: Path) -> None:
    submitted = submit_review(
        tree, "pr-07", "red", "services/billing/receipts.py:20:string-built-sql-or-shell"
    )
    red = drill(tree, "report", "--team", "red", env=NOBODY)
    blue = drill(tree, "report", "--team", "blue", env=NOBODY)

    assert submitted.returncode == 0, submitted.stderr
    assert red.returncode == 0, red.stderr
    assert "Review drills" in red.stdout
    assert re.search(r"red\s+│\s+1\s+│\s+1 of 2\s+│\s+0\s+│\s+50%", red.stdout), red.stdout
    assert "No drills yet for team blue" in blue.stdout


@pytest.mark.parametrize(
    ("minute", "phase"),
    [(2, "Alerting"), (12, "Dark-room investigation"), (31, "Supervised fix"), (50, "Post-mortem")],
)
def test_status_shows_elapsed_time_phase_alerts_and_load(
    seeded: Path, minute: float, phase: str
) -> None:
    result = drill(seeded, "status", env=at(minute))

    assert result.returncode == 0, result.stderr
    assert f"elapsed {minute:02.0f}:00 of 60:00" in result.stdout
    assert f"Phase: {phase}" in result.stdout
    # No Prometheus or Alertmanager on this offset: said plainly, not a stack trace.
    assert "no alerts can be read" in result.stdout
    assert "Alertmanager" in result.stdout and "Prometheus" in result.stdout
    assert "Load: not running" in result.stdout


def test_watch_refreshes_the_status_the_asked_number_of_times(seeded: Path) -> None:
    result = drill(seeded, "watch", "--interval", "0.5", "--count", "2", env=at(7))

    assert result.returncode == 0, result.stderr
    assert "Dark-room investigation" in result.stdout


def test_hints_come_one_at_a_time_each_recorded_until_none_is_left(seeded: Path) -> None:
    shown = [drill(seeded, "hint", env=at(6 + n)) for n in range(5)]

    assert all(r.returncode == 0 for r in shown)
    assert "Hint 1 of 4" in shown[0].stdout and "Hint 4 of 4" in shown[3].stdout
    assert "All 4 hints are taken" in shown[4].stdout
    again = drill(seeded, "hint", "--again", env=at(12))
    assert again.stdout.count("Hint ") == 4
    hints = Journal().drills()[0].of_kind("hint")
    assert [e.data["number"] for e in hints] == [1, 2, 3, 4]
    assert hints[0].at == T0 + timedelta(minutes=6)


def test_diagnose_by_options_judges_and_records_the_time(seeded: Path) -> None:
    wrong = drill(seeded, "diagnose", "--service", "billing", "--mechanism", "1", env=at(9))
    right = drill(
        seeded,
        "diagnose",
        "--service",
        "billing",
        "--mechanism",
        "float-money-no-idempotency",
        env=at(14.5),
    )
    bad = drill(seeded, "diagnose", "--service", "the database", env=at(15))

    assert wrong.returncode == 0 and "Not yet" in wrong.stdout and "mechanism" in wrong.stdout
    assert right.returncode == 0 and "isolated at 14:30" in right.stdout
    assert "within the 20-minute target" in right.stdout
    assert bad.returncode == 2 and "choose one of" in bad.stderr
    diagnoses = Journal().drills()[0].of_kind("diagnosis")
    assert [d.data["correct"] for d in diagnoses] == [False, True]


def test_diagnose_prompts_when_run_interactively(seeded: Path) -> None:
    # The prompts read stdin: the answers a person would type, by number.
    result = subprocess.run(
        [sys.executable, "-m", "drill", "diagnose"],
        cwd=seeded,
        input="1\n3\n",
        env={**os.environ, **at(25), "NO_COLOR": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Which service holds the root cause?" in result.stdout
    # The mechanisms are listed by number and text: their keys are the instructor's.
    mechanism = content.load(seeded, "float-drift").questions[1]
    assert not [key for key in mechanism.choices if key in result.stdout], result.stdout
    assert "Right." in result.stdout and "over the 20-minute target" in result.stdout


def test_diagnose_without_answers_and_without_input_is_bad_usage(seeded: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "drill", "diagnose"],
        cwd=seeded,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **at(10)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "--service" in result.stderr and "--mechanism" in result.stderr


def test_end_closes_the_drill_and_a_report_and_postmortem_follow(seeded: Path) -> None:
    ended = drill(seeded, "end", env=at(52))
    reported = drill(seeded, "report", "--team", "red", env=at(53))
    written = drill(seeded, "postmortem", env=at(54))

    assert ended.returncode == 0 and "ended after 52:00" in ended.stdout
    assert "the load was not running" in ended.stdout
    assert "#1" in reported.stdout and "ledger-mismatch" in reported.stdout
    assert "ended after 52:00" in reported.stdout
    assert written.returncode == 0, written.stderr
    text = (seeded / "reports" / "postmortems" / "drill-1-ledger-mismatch.md").read_text()
    assert "Not fixed during the drill" in text
    assert "| Fix verified within the 60 minutes | not verified (0 attempt(s)) | missed |" in text
    assert drill(seeded, "status", env=at(55)).returncode == 2


def test_selftest_refuses_unknown_scenarios_and_a_missing_lab(tree: Path) -> None:
    unknown = drill(tree, "selftest", "no-such-drill", env=NOBODY)
    no_lab = drill(tree, "selftest", "float-drift", env=NOBODY)

    assert unknown.returncode == 2 and "unknown drill" in unknown.stderr
    assert no_lab.returncode == 2 and "drill up" in no_lab.stderr


def test_a_never_solved_checkout_resets_even_where_the_fix_adds_files(tree: Path) -> None:
    # circular-deadlock's reference fix creates files the committed code does not have: `drill
    # start` restores the faulty code from git, so reset must take "absent in HEAD" as faulty.
    git = ["git", "-C", str(tree), "-c", "user.name=drill", "-c", "user.email=drill@lab"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "lab"], check=True)
    added = tree / "services" / "chain" / "hops.py"
    assert not added.exists()
    added.write_text("# a trainee's new module\n")

    result = drill(tree, "reset", "circular-deadlock", env=NOBODY)

    assert result.returncode == 0, result.stderr
    assert not added.exists()
    assert "Your edits were saved" in result.stdout


def test_an_unreadable_drill_log_is_exit_1_naming_the_file(
    tree: Path, drill_data_dir: Path
) -> None:
    drill_data_dir.mkdir(parents=True, exist_ok=True)
    (drill_data_dir / "drill.db").write_bytes(b"not a database, just bytes" * 100)

    result = drill(tree, "status", env=NOBODY)

    assert result.returncode == 1
    assert "drill.db" in result.stderr and "Traceback" not in result.stderr


def test_postmortem_waits_for_the_end_then_can_be_written_elsewhere_and_printed(
    seeded: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "pm.md"

    during = drill(seeded, "postmortem", "--print", env=at(20))
    assert drill(seeded, "end", env=at(50)).returncode == 0
    result = drill(seeded, "postmortem", "--drill", "1", "--output", str(target), "--print")

    # The post-mortem names the root cause and the fix: not while the team is still looking.
    assert during.returncode == 2 and "drill end" in during.stderr
    assert "Root cause" not in during.stdout
    assert result.returncode == 0, result.stderr
    assert target.read_text() in result.stdout
    assert drill(seeded, "postmortem", "--drill", "9").returncode == 2
