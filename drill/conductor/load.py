"""The scenario's load: Locust, headless, in the background, for the length of the drill.

The process outlives the `drill start` that launched it (its own session), so its pid is kept in
the journal, and `drill end` stops it. A pid alone can be reused by another program once Locust
exits, so every signal is sent only after checking the process is still our Locust.
"""

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from drill.paths import INSTALLED_REPO

# The drill lasts 60 minutes; the load stops by itself a little after, should nobody `drill end`.
RUN_TIME = "75m"
STOP_TIMEOUT_S = 15.0


class LoadError(Exception):
    """The load cannot be started; the message says why."""


@dataclass(frozen=True)
class LoadProcess:
    """A running Locust."""

    pid: int
    users: int
    locustfile: Path
    log: Path
    csv_prefix: Path


def locustfile(root: Path, scenario: str) -> Path:
    """loadgen/<scenario_underscored>.py of the tree, or of the installed checkout."""
    name = f"{scenario.replace('-', '_')}.py"
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
    # The tree's code first (the loadgen imports drill.services and the services' seeds).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv,
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    time.sleep(0.5)
    if process.poll() is not None:
        raise LoadError(f"Locust exited at once (code {process.returncode}); see {log}")
    return LoadProcess(process.pid, users, script, log, prefix)


def _ours(pid: int) -> bool:
    """Whether pid is still a Locust process (not a program that reused the pid)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True  # no /proc to check against: trust the journal's pid
    return b"locust" in cmdline


def running(pid: int | None) -> bool:
    """Whether the drill's load still runs."""
    return pid is not None and _ours(pid)


def _signal(pid: int | None, sig: signal.Signals) -> bool:
    """Send the signal to the load's process group if the pid is still our Locust."""
    if not running(pid):
        return False
    assert pid is not None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    return True


def pause(pid: int | None) -> bool:
    """Freeze the load (SIGSTOP) while a latency check measures; True if it ran."""
    return _signal(pid, signal.SIGSTOP)


def resume(pid: int | None) -> bool:
    """Let a paused load go on (SIGCONT); True if it ran."""
    return _signal(pid, signal.SIGCONT)


def stop(pid: int | None) -> bool:
    """Stop the load (SIGTERM to its process group, SIGKILL if it lingers); True if it ran."""
    if not resume(pid):  # a paused Locust would not see the SIGTERM until continued
        return False
    assert pid is not None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)  # Locust writes its last CSV stats on SIGTERM
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if running(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
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
