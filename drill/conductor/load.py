"""The scenario's load: Locust, headless, in the background, for the length of the drill.

The process outlives the `drill start` that launched it (its own session), so its pid and start
time are kept in the journal, and `drill end` stops it. A pid alone can be reused by another
program once Locust exits, so every signal goes through drill.processes, which sends it only
while the pid is still the process that was started.
"""

import csv
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from drill import processes
from drill.paths import INSTALLED_REPO
from drill.scenarios import codename

# The drill lasts 60 minutes; the load stops by itself a little after, should nobody `drill end`.
RUN_TIME = "75m"
STOP_TIMEOUT_S = 15.0


class LoadError(Exception):
    """The load cannot be started; the message says why."""


@dataclass(frozen=True)
class LoadProcess:
    """A running Locust."""

    pid: int
    started: int | None  # its start time (drill.processes), kept in the journal with the pid
    users: int
    locustfile: Path
    log: Path
    csv_prefix: Path

    @property
    def process(self) -> processes.Process:
        """The process to check before signalling it."""
        return processes.Process(self.pid, self.started)


def locustfile(root: Path, scenario: str) -> Path:
    """loadgen/<codename_underscored>.py of the tree, or of the installed checkout (the load is
    named as trainees know the drill; the Locust UI shows the file)."""
    name = f"{codename(scenario).replace('-', '_')}.py"
    for base in (root, INSTALLED_REPO):
        if (base / "loadgen" / name).is_file():
            return base / "loadgen" / name
    raise LoadError(f"no load for scenario {scenario!r}: loadgen/{name} is missing")


def start(root: Path, scenario: str, users: int, run_dir: Path) -> LoadProcess:
    """Start Locust headless against the lab (DRILL_PORT_OFFSET is inherited)."""
    script = locustfile(root, scenario)
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "locust.log"
    prefix = run_dir / "locust"
    argv = [sys.executable, "-m", "locust", "-f", str(script), "--headless"]
    argv += ["--users", str(users), "--spawn-rate", str(users), "--run-time", RUN_TIME]
    argv += ["--only-summary", "--exit-code-on-error", "0", "--csv", str(prefix)]
    env = dict(os.environ)
    # The tree's code first (the load imports the services' seeds).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    child, process = processes.spawn(argv, cwd=root, env=env, log=log)
    time.sleep(0.5)
    if child.poll() is not None:
        raise LoadError(f"Locust exited at once (code {child.returncode}); see {log}")
    return LoadProcess(process.pid, process.started, users, script, log, prefix)


def running(process: processes.Process | None) -> bool:
    """Whether the drill's load still runs."""
    return process is not None and processes.alive(process)


def pause(process: processes.Process | None) -> bool:
    """Freeze the load (SIGSTOP) while a latency check measures; True if it ran."""
    return process is not None and processes.signal_group(process, signal.SIGSTOP)


def resume(process: processes.Process | None) -> bool:
    """Let a paused load go on (SIGCONT); True if it ran."""
    return process is not None and processes.signal_group(process, signal.SIGCONT)


def stop(process: processes.Process | None) -> bool:
    """Stop the load (SIGTERM to its process group, SIGKILL if it lingers); True if it ran.
    Locust writes its last CSV stats on SIGTERM."""
    if not running(process):
        return False
    assert process is not None
    resume(process)  # a paused Locust would not see the SIGTERM until continued
    processes.stop_groups([process], STOP_TIMEOUT_S, poll=0.2)
    return True


@dataclass(frozen=True)
class LoadStats:
    """Locust's aggregated numbers for the drill's load."""

    requests: int
    failures: int
    p50_ms: float
    p99_ms: float
    rps: float


def stats(csv_prefix: Path) -> LoadStats | None:
    """The Aggregated row of Locust's CSV stats (written every few seconds while it runs)."""
    path = csv_prefix.with_name(csv_prefix.name + "_stats.csv")
    try:
        with path.open(newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get("Name") == "Aggregated"]
    except OSError:
        return None
    if not rows:
        return None
    row = rows[-1]

    def number(key: str) -> float:
        try:
            return float(row.get(key) or 0)
        except ValueError:
            return 0.0  # Locust writes "N/A" for percentiles before the first request

    return LoadStats(
        int(number("Request Count")),
        int(number("Failure Count")),
        number("50%"),
        number("99%"),
        number("Requests/s"),
    )
