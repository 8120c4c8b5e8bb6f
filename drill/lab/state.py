"""What both backends of the lab share: the state file `.drill/lab.json`, what it records of each
service, and the lab's errors.

`lab.json` records which mode runs (`local` or `docker`), so that every later command (a grader
that stops service-c, `drill solve` restarting a service, `drill down`) does the same thing the
same way: for the local lab, each process's pid and start time; for the Docker lab, the compose
command of its project.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from drill.database import LabDatabase
from drill.paths import state_dir
from drill.processes import Process

READY_TIMEOUT_S = 120.0  # a busy machine: import, schema and a 47,000-entry seed
LOCAL = "local"
DOCKER = "docker"


class LabError(Exception):
    """The lab could not be started or stopped; the message says why and what to do."""


@dataclass
class RunningService:
    """A service the lab started: a process on the host (local) or a compose service (docker)."""

    name: str
    pid: int  # the process on the host; 0 for a container (never signalled)
    url: str
    log: str  # the log file, or the command that shows the container's log
    started: int | None = None  # the process's start time (drill.processes); None for a container
    # The folder whose services/ it serves: "" for the tree's own (what a trainee edits); while a
    # drill runs, the other drills' services serve a copy holding their reference fixes.
    code: str = ""

    @property
    def process(self) -> Process:
        """The process to check before signalling it (drill.processes)."""
        return Process(self.pid, self.started)


def state_file(root: Path) -> Path:
    """The tree's `.drill/lab.json`."""
    return state_dir(root) / "lab.json"


def read_raw(root: Path) -> dict[str, Any]:
    """The state file as JSON; {} when there is none."""
    try:
        raw = json.loads(state_file(root).read_text())
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LabError(
            f"cannot read {state_file(root)} ({exc}); delete it, and stop by hand any lab "
            "process still running (`ss -ltnp` shows who holds the lab's ports)"
        ) from exc
    return raw


def read_state(root: Path) -> dict[str, RunningService]:
    """The services the lab started from this tree and believes are running."""
    raw = read_raw(root)
    return {name: RunningService(**entry) for name, entry in raw.get("services", {}).items()}


def read_database(root: Path) -> LabDatabase | None:
    """The database the tree's lab was started with; None when no lab has recorded one."""
    recorded = read_raw(root).get("database")
    return LabDatabase(**recorded) if isinstance(recorded, dict) else None


def read_mode(root: Path) -> str | None:
    """`local` or `docker`: how the tree's lab runs; None when it does not."""
    raw = read_raw(root)
    return str(raw.get("mode", LOCAL)) if raw.get("services") else None


def write_state(
    root: Path,
    services: dict[str, RunningService],
    mode: str = LOCAL,
    compose: list[str] | None = None,
    database: LabDatabase | None = None,
) -> None:
    """Record the lab's services (and, for the Docker lab, its compose command), and the
    database they use."""
    path = state_file(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state: dict[str, Any] = {"mode": mode, "services": {n: asdict(s) for n, s in services.items()}}
    if compose is not None:
        state["compose"] = compose
    # The database is chosen once, when the lab starts: a service restarted later (a solve, the
    # grader's restart of service-c) must find the same data.
    state["database"] = asdict(database) if database else read_raw(root).get("database")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)  # atomic: a crash never leaves half a state file


def forget(root: Path) -> None:
    """Delete the state file: no lab runs from this tree."""
    state_file(root).unlink(missing_ok=True)


def answers(url: str, path: str) -> bool:
    """Whether url + path answers 200 within a second."""
    try:
        return httpx.get(url + path, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
