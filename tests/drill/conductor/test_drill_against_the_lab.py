"""A whole 60-minute drill, and `drill selftest`, against the real local lab: real `drill`
subprocesses, real Locust load, real graders. Time is set through DRILL_NOW, never slept through."""

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from drill import fixes
from drill.conductor import content
from drill.conductor.journal import Journal
from drill.conductor.load import running, stop
from drill.grading import VEILED
from drill.lab import read_state
from drill.scenarios import registry
from drill.scenarios.float_drift import SCENARIO as FLOAT_DRIFT
from drill.scenarios.float_drift import Grader
from drill.services import SERVICES
from tests.conftest import REPO, SERVED_BY, drill

pytestmark = pytest.mark.slow

FLOAT_DRIFT_CONTENT = content.load(REPO, FLOAT_DRIFT.id)
CAUSE_WORDS = FLOAT_DRIFT_CONTENT.cause_words
MECHANISM = FLOAT_DRIFT_CONTENT.questions[1]
# The right mechanism as a team gives it: by its number in the list.
ANSWER = str(1 + [key in MECHANISM.answers for key in MECHANISM.choices].index(True))
# The grader's check names, in order (building the grader touches no lab).
FLOAT_DRIFT_CHECKS = [name for name, _ in Grader(REPO, None).checks()]  # type: ignore[arg-type]


def commit_tree(tree: Path) -> None:
    """Make the tree a git checkout, as a trainee's is, so `drill start` can restore the faulty
    code from HEAD and the post-mortem can list what the team changed."""
    git = ["git", "-C", str(tree), "-c", "user.name=drill", "-c", "user.email=drill@lab"]
    # As the repository's own .gitignore: the running lab's state is never committed (and it
    # changes while git reads it).
    (tree / ".gitignore").write_text(".drill/\nreports/\n__pycache__/\n")
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "lab"], check=True)


def assert_no_drill_id(text: str) -> None:
    """Trainees read drills by codename: an id names the planted fault."""
    assert not [s.id for s in registry().values() if s.id in text], text


STARTED = "Application startup complete."  # uvicorn's line, once per (re)start of a worker
BILLING = SERVICES["billing"].url
WRITER = {"Authorization": "Bearer drill-lab-writer"}
READER = {"Authorization": "Bearer drill-lab-reader"}


def startups(lab: Path) -> dict[str, int]:
    """How many times each service of the lab has started, from its log."""
    logs = lab / ".drill" / "logs"
    return {
        name: (logs / f"{name}.log").read_text("utf-8", "replace").count(STARTED)
        for name in SERVICES
    }


def reloaded(lab: Path, name: str, before: dict[str, int], timeout_s: float = 90) -> None:
    """Wait until the service started once more than `before` says, and answers ready."""
    deadline = time.monotonic() + timeout_s
    while startups(lab)[name] <= before[name] or (
        httpx.get(f"{SERVICES[name].url}/readyz", timeout=5).status_code != 200
    ):
        assert time.monotonic() < deadline, f"{name} did not reload: {startups(lab)}"
        time.sleep(0.25)


def clock_of(started: datetime) -> Callable[[float], dict[str, str]]:
    """The environment that sets the conductor's clock `minutes` after `started`."""

    def at(minutes: float) -> dict[str, str]:
        return {"DRILL_NOW": (started + timedelta(minutes=minutes)).isoformat()}

    return at


@pytest.fixture
def drills_end(lab: Path) -> Iterator[Path]:
    """The lab; after the test, whatever happened, no drill's Locust is left running."""
    try:
        yield lab
    finally:
        leftover = Journal().active()
        if leftover is not None:
            stop(leftover.load_process)


def test_a_whole_drill_from_page_to_postmortem(drills_end: Path) -> None:
    lab = drills_end
    commit_tree(lab)
    # A trainee's leftover edit from an earlier attempt: the drill must start from faulty code.
    ledger = lab / "services" / "billing" / "ledger.py"
    faulty = ledger.read_text()
    ledger.write_text(faulty + "\n# leftover edit\n")

    started = drill(lab, "start", "ledger-mismatch", "--team", "red", "--users", "2")

    assert started.returncode == 0, started.stdout + started.stderr
    assert "Drill #1 started (ledger-mismatch)" in started.stdout
    assert_no_drill_id(started.stdout)
    assert "PAGE" in started.stdout and "billing (ledger integrity)" in started.stdout
    # At the page nothing of this drill fires yet: the page names no alert, and says so.
    assert "Firing now: nothing yet" in started.stdout, started.stdout
    page = started.stdout.split("PAGE")[1].split("Drill #")[0]
    assert not re.search(r"float|idempot|decimal", page, re.I), page
    assert ledger.read_text() == faulty
    assert list((lab / ".drill" / "saved").rglob("ledger.py"))
    # Only this drill's fault is live: the other drills' services serve their reference fixes.
    served = {name: service.code for name, service in read_state(lab).items()}
    assert served["billing"] == served["catalog"] == ""
    for other in ("n-plus-one", "circular-deadlock"):
        for rel in fixes.fix_files(lab, other):
            fixed_bytes = (lab / "solutions" / other / rel).read_bytes()
            for name in SERVED_BY[rel.split("/")[1]]:
                assert (Path(served[name]) / rel).read_bytes() == fixed_bytes, name
    # ... and that is the code they run: orders' batch costs a few statements, not one per user.
    batch = httpx.post(
        f"{SERVICES['orders'].url}/v1/orders/batch",
        json={"user_ids": list(range(1, 51))},
        timeout=30,
    )
    assert batch.status_code == 200, batch.text
    assert re.search(r"db;count=[1-5]\b", batch.headers["server-timing"]), batch.headers
    drill_run = Journal().active()
    assert drill_run is not None and running(drill_run.load_process)
    at = clock_of(drill_run.started_at)

    again = drill(lab, "start", "n-plus-one", "--team", "blue")
    assert again.returncode == 2 and "still running" in again.stderr

    alerting = drill(lab, "status", env=at(1))
    assert alerting.returncode == 0, alerting.stderr
    assert "Phase: Alerting" in alerting.stdout
    assert "ledger-mismatch" in alerting.stdout
    assert_no_drill_id(alerting.stdout)
    assert f"Load: running (Locust pid {drill_run.load_pid})" in alerting.stdout
    assert re.search(r"Alerts: |Firing alerts", alerting.stdout)

    dark = drill(lab, "status", env=at(6))
    assert "Phase: Dark-room investigation" in dark.stdout
    assert drill(lab, "watch", "--interval", "0.5", "--count", "2", env=at(7)).returncode == 0
    assert "Hint 1 of" in drill(lab, "hint", env=at(8)).stdout
    assert "Hint 2 of" in drill(lab, "hint", env=at(10)).stdout
    wrong = drill(lab, "diagnose", "--service", "orders", "--mechanism", "1", env=at(12))
    assert "Not yet" in wrong.stdout

    # `drill verify` with no drill named grades the running one; before the team has named the
    # cause, the scorecard shows only the checks that say no more than the page.
    failing = drill(lab, "verify", env=at(14))
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "drill verify ledger-mismatch" in failing.stdout
    assert "Recorded as attempt 1 of drill #1, at 14:00" in failing.stdout
    assert failing.stdout.count(VEILED) == len(FLOAT_DRIFT_CHECKS) - len(FLOAT_DRIFT.symptoms)
    assert all(name in failing.stdout for name in FLOAT_DRIFT.symptoms), failing.stdout
    assert not [w for w in CAUSE_WORDS if w in failing.stdout.lower()], failing.stdout
    narrowed = drill(lab, "verify", "--check", next(iter(FLOAT_DRIFT.symptoms)), env=at(15))
    assert narrowed.returncode == 2 and "after a right `drill diagnose`" in narrowed.stderr

    right = drill(lab, "diagnose", "--service", "billing", "--mechanism", ANSWER, env=at(16))
    assert "isolated at 16:00" in right.stdout

    # A saved edit is served at once: billing alone reloads, and keeps the rows the team studies.
    user = str(uuid.uuid4())
    body = {"user_id": user, "action": "create", "amount": "1.25", "request_id": f"kept-{user}"}
    assert httpx.post(f"{BILLING}/v1/transactions", json=body, headers=WRITER).status_code == 200
    before = startups(lab)
    with (lab / "services" / "billing" / "ledger.py").open("a") as ledger_file:
        ledger_file.write("\n# a note the team saved while reading\n")
    reloaded(lab, "billing", before)
    assert {n: c for n, c in startups(lab).items() if n != "billing"} == {
        n: c for n, c in before.items() if n != "billing"
    }
    kept = httpx.get(f"{BILLING}/v1/users/{user}/balance", headers=READER).json()
    assert (kept["balance"], kept["transaction_count"]) == ("1.25", 1), kept

    # The team's fix: here, the reference fix's files written over the faulty ones by hand, so
    # that the post-mortem sees the team's own change in git. Saved, it is served without a
    # restart; its tables differ, so billing starts them afresh from the seed.
    before = startups(lab)
    for rel in ("ledger.py", "models.py", "schemas.py"):
        fixed = lab / "solutions" / "float-drift" / "services" / "billing" / rel
        (lab / "services" / "billing" / rel).write_bytes(fixed.read_bytes())
    reloaded(lab, "billing", before)
    assert '"why": "the models changed"' in (lab / ".drill" / "logs" / "billing.log").read_text()
    passing = drill(lab, "verify", "--json", env=at(41))
    assert passing.returncode == 0, passing.stdout + passing.stderr
    graded = [check["name"] for check in json.loads(passing.stdout)["checks"]]
    assert graded == FLOAT_DRIFT_CHECKS  # a right diagnosis lifts the veil
    assert "Recorded as attempt 2 of drill #1, at 41:00" in passing.stderr

    assert "Phase: Post-mortem" in drill(lab, "status", env=at(46)).stdout
    ended = drill(lab, "end", env=at(47))
    assert ended.returncode == 0, ended.stderr
    assert "load stopped" in ended.stdout
    assert not running(drill_run.load_process)

    written = drill(lab, "postmortem", env=at(50))
    assert written.returncode == 0, written.stderr
    text = (lab / "reports" / "postmortems" / "drill-1-ledger-mismatch.md").read_text()
    timeline = text.split("## Timeline")[1].split("## Root cause")[0]
    order = [
        "Drill started",
        "Hint 1 taken",
        "Hint 2 taken",
        "not right yet",
        "attempt 1: FAIL",
        "right.",
        "attempt 2: **PASS**",
        "Drill ended",
    ]
    positions = [timeline.index(step) for step in order]
    assert positions == sorted(positions), timeline
    assert "(+16:00)" in timeline and "(+41:00)" in timeline
    assert "services/billing/ledger.py" in text  # what fixed it: the team's change, from git
    assert "Client side (Locust" in text
    assert "What the grader measured on the first `drill verify`" in text
    assert "| Root cause isolated in under 20 min | 16:00 | met |" in text
    assert "| Fix verified within the 60 minutes | at 41:00, after 2 attempt(s) | met |" in text
    assert "| Hints used (at most 2) | 2 of 4 | met |" in text

    reported = drill(lab, "report", "--team", "red")
    assert "ledger-mismatch" in reported.stdout and "16:00 (met)" in reported.stdout
    assert_no_drill_id(reported.stdout)

    # Rotation: the team has done float-drift, so --random picks another drill.
    rotated = drill(lab, "start", "--random", "--team", "red", "--users", "1")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    second = Journal().active()
    assert second is not None and second.scenario != "float-drift"
    assert drill(lab, "end").returncode == 0


def test_selftest_proves_a_drill_round_trips_on_the_lab(lab: Path) -> None:
    """One drill: every drill's round trip (poisoned fails, reference passes) is already proven by
    its grader tests (tests/drill/scenarios/); this proves selftest's own loop and report."""
    commit_tree(lab)

    result = drill(lab, "selftest", "n-plus-one", timeout=900)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Every drill is ready (1 in" in result.stdout
    assert re.search(r"n-plus-one\s+.*yes\s+.*yes\s+.*ready", result.stdout), result.stdout
    # The tree is left faulty, as it was: nothing of the reference fixes remains.
    assert (
        subprocess.run(
            ["git", "-C", str(lab), "status", "--porcelain", "services"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        == ""
    )


def test_selftest_says_which_drill_is_broken(lab: Path) -> None:
    # A lab whose committed "faulty" billing is already the fix: the grader cannot catch a fault.
    for rel in ("ledger.py", "models.py", "schemas.py"):
        fixed = lab / "solutions" / "float-drift" / "services" / "billing" / rel
        (lab / "services" / "billing" / rel).write_bytes(fixed.read_bytes())
    commit_tree(lab)
    restarted = drill(lab, "down"), drill(lab, "up", "--mode", "local")
    assert restarted[1].returncode == 0, restarted[1].stderr

    result = drill(lab, "selftest", FLOAT_DRIFT.id, env={"COLUMNS": "250", **os.environ})

    assert result.returncode == 1
    assert "NO: the grader misses the fault" in result.stdout
    assert "broken drills: float-drift" in result.stderr
