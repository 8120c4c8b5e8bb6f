"""Each drill's alerts fire in a real Prometheus, evaluating the real rule files against the
local lab during that drill (`drill start`: its fault live, the other drills' services on their
reference fixes) under every drill's real Locust load at once, and no alert the drill did not
cause; with every reference fix, under the same loads, none of them fires. The delay from load
start to each alert firing is printed (docs/benchmarks.md). Four labs in all: one per drill, one
fixed."""

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from drill.conductor import load
from drill.services import PROMETHEUS_PORT, port_offset
from tests.conftest import REPO, drill

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("prometheus") is None,
        reason="Prometheus is not installed (.ci/run installs Debian's prometheus package)",
    ),
]

# Alerts that say something is broken whatever the drill: a fixed lab must not raise them either.
GENERIC = {"ServiceDown", "HighErrorRate"}
POLL_S = 2.0


@dataclass(frozen=True)
class Drill:
    scenario: str
    users: int
    alerts: frozenset[str]  # must fire on the poisoned code
    fire_within_s: float  # after load starts
    # What else the drill's own fault may raise (its service's other symptoms); any other alert
    # on the poisoned lab is one the drill did not cause, and fails the test.
    also: frozenset[str] = frozenset({"HighErrorRate"})

    @property
    def may_fire(self) -> frozenset[str]:
        return self.alerts | self.also


DRILLS = [
    Drill(
        "float-drift",
        20,
        frozenset({"BillingLedgerDrift", "BillingDoubleCharge"}),
        100,
        frozenset({"HighErrorRate", "BillingLatencyHigh"}),
    ),
    Drill(
        "circular-deadlock", 32, frozenset({"ChainUpstreamTimeouts", "ChainWorkersSaturated"}), 90
    ),
    # Two users, as the runbook says: with more, the blocked event loop starves the scrapes
    # (ServiceDown fires instead, and the storm cannot be measured).
    Drill("n-plus-one", 2, frozenset({"OrdersLatencyHigh", "OrdersQueryStorm"}), 150),
]
# What every drill's load at once may raise on a neighbour of a live fault, through the machine
# they share (CPU, the one PostgreSQL), not through a fault of its own.
CONTENTION = frozenset({"OrdersLatencyHigh", "BillingLatencyHigh"})
# How long the fixed lab must stay quiet under every drill's load at once: past each alert's
# `for:` (at most 1m) and its 1-2m rate windows filling.
QUIET_FOR_S = 75.0


def firing(prometheus: str) -> set[str]:
    response = httpx.get(f"{prometheus}/api/v1/alerts", timeout=5)
    response.raise_for_status()
    return {
        alert["labels"]["alertname"]
        for alert in response.json()["data"]["alerts"]
        if alert["state"] == "firing"
    }


def start_load(case: Drill, seconds: float) -> subprocess.Popen[bytes]:
    locustfile = load.locustfile(REPO, case.scenario)
    args = ["--headless", "--only-summary", "--exit-code-on-error", "0"]
    args += ["--users", str(case.users), "--spawn-rate", str(case.users)]
    args += ["--run-time", f"{int(seconds)}s"]
    return subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(locustfile), *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def watch(
    cases: list[Drill], seconds: float, until: frozenset[str], at_least: float = 0.0
) -> dict[str, float]:
    """Run the cases' loads at once against the running lab for up to `seconds`; return when
    each alert first fired (seconds after load start), stopping early, once `at_least` seconds
    have passed, if every alert in `until` has."""
    prometheus = f"http://127.0.0.1:{PROMETHEUS_PORT + port_offset()}"
    first: dict[str, float] = {}
    loads = [start_load(case, seconds) for case in cases]
    began = time.monotonic()
    try:
        while time.monotonic() - began < seconds:
            for name in firing(prometheus):
                first.setdefault(name, round(time.monotonic() - began, 1))
            if until and until <= first.keys() and time.monotonic() - began >= at_least:
                break
            time.sleep(POLL_S)
    finally:
        for load in loads:
            load.terminate()
        for load in loads:
            load.wait(timeout=30)
    return first


@pytest.mark.parametrize("case", DRILLS, ids=[case.scenario for case in DRILLS])
def test_a_drill_fires_its_alerts_and_no_other_under_every_drills_load(
    case: Drill, tree: Path
) -> None:
    """A lab (and its Prometheus) per drill: one shared by the three is not the same test, since
    a chain still deadlocked from the drill before starves orders' scrapes. The drill's own load
    is the one `drill start` runs; the other drills' loads run beside it, as long as their
    alerts take to fire when their faults are live."""
    started = drill(tree, "up", "--mode", "local")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        users = str(case.users)
        begun = drill(tree, "start", case.scenario, "--team", "alerts", "--users", users)
        assert begun.returncode == 0, begun.stdout + begun.stderr
        others = [other for other in DRILLS if other is not case]
        theirs = max(other.fire_within_s for other in others)
        fired = watch(others, max(case.fire_within_s, theirs), until=case.alerts, at_least=theirs)
    finally:
        drill(tree, "end")
        drill(tree, "down")

    print(f"{case.scenario} drill, every drill's load: alerts fired after (s) {fired}")
    assert case.alerts <= fired.keys(), f"fired: {fired}"
    # Only this drill's fault is live: no other drill's alert fires under its load, save the
    # latency of a neighbour when three loads and a live fault share two cores (in a drill only
    # its own load runs: tried, OrdersLatencyHigh fired after 72 s beside the ledger drill).
    assert fired.keys() - case.may_fire <= CONTENTION, f"fired: {fired}"


def test_the_fixed_lab_stays_quiet_under_every_drills_load_at_once(tree: Path) -> None:
    """Every reference fix, a fresh lab (a fresh Prometheus: no alert left from the poisoned
    runs), and all three loads at once: no drill's alert fires, nor a generic one."""
    for case in DRILLS:
        assert drill(tree, "solve", case.scenario).returncode == 0
    started = drill(tree, "up", "--mode", "local")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        fired = watch(DRILLS, QUIET_FOR_S, until=frozenset())
    finally:
        drill(tree, "down")

    print(f"fixed, every drill's load: alerts fired {fired}")
    alerts = GENERIC.union(*(case.alerts for case in DRILLS))
    assert not fired.keys() & alerts, f"fired: {fired}"
