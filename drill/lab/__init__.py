"""The lab, in one of two modes, behind one set of operations (start, stop, restart, read_state):

- local (drill/lab/local.py): every service as a background uvicorn process on 127.0.0.1,
  serving the tree's code, with its state (pids, logs, SQLite databases) in the tree's `.drill/`;
- docker (drill/lab/docker.py): the tree's docker-compose.yml run by `docker compose`, the tree's
  code bind-mounted into the containers.

`.drill/lab.json` (drill/lab/state.py) records which mode runs; the operations below read it and
hand each call to that backend, so that every later command (a grader that stops service-c,
`drill solve` restarting a service, `drill down`) does the same thing the same way. This module
is the only place that chooses between the two.
"""

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from drill.lab import docker, local
from drill.lab.docker import (
    COMPOSE_FILE,
    DOCKER_COMMAND_TIMEOUT_S,
    DOCKER_READY_TIMEOUT_S,
    TOOL_PORTS,
    Compose,
    docker_unavailable,
    start_docker,
)
from drill.lab.local import STOP_TIMEOUT_S, Launch, service_launch
from drill.lab.state import (
    DOCKER,
    LOCAL,
    READY_TIMEOUT_S,
    LabError,
    RunningService,
    read_database,
    read_mode,
    read_state,
)
from drill.services import SERVICES

__all__ = [
    "COMPOSE_FILE",
    "DOCKER",
    "DOCKER_COMMAND_TIMEOUT_S",
    "DOCKER_READY_TIMEOUT_S",
    "LOCAL",
    "READY_TIMEOUT_S",
    "STOP_TIMEOUT_S",
    "TOOL_PORTS",
    "Compose",
    "LabError",
    "Launch",
    "RunningService",
    "docker_unavailable",
    "read_database",
    "read_mode",
    "read_state",
    "restart",
    "serve",
    "service_launch",
    "start",
    "start_docker",
    "stop",
]


def start(
    root: Path,
    names: Iterable[str] | None = None,
    extra: Sequence[Launch] = (),
    progress: Callable[[str], None] = print,
) -> dict[str, RunningService]:
    """Start the named services (default: all) and, in the local lab, the extra processes; return
    once each is ready. When the tree's lab runs in Docker, start those of its containers."""
    if read_mode(root) == DOCKER:
        return docker.start(root, list(names or SERVICES), progress)
    return local.start(root, names, extra, progress)


def stop(root: Path, services: dict[str, RunningService] | None = None) -> list[str]:
    """Stop the given services (default: every one the lab started). Local lab: stop the
    processes and forget them. Docker lab: stop those containers (they stay in the lab, to start
    again), or, with no names, take the whole lab down."""
    if read_mode(root) == DOCKER:
        return docker.stop(root, None if services is None else list(services))
    return local.stop(root, services)


def restart(
    root: Path,
    names: Iterable[str],
    progress: Callable[[str], None] = print,
    code: Path | None = None,
) -> None:
    """Restart the named services if the lab runs them, so they serve the tree's current code
    (or, given `code`, the services/ of that folder), from the seed data."""
    running = read_state(root)
    targets = {name: running[name] for name in names if name in running}
    if targets and read_mode(root) == DOCKER:
        docker.restart(root, list(targets), progress, code)
    elif targets:
        local.stop(root, targets)
        local.start(root, targets, progress=progress, code=code)


def serve(
    root: Path, plan: dict[str, Path | None], progress: Callable[[str], None] = print
) -> list[str]:
    """Make each service of the plan that the lab runs serve the services/ of its folder (None:
    the tree's own), restarting those that serve something else; returns those restarted."""
    running = read_state(root)
    moves: dict[Path | None, list[str]] = {}
    for name, code in plan.items():
        if name in running and running[name].code != (str(code) if code else ""):
            moves.setdefault(code, []).append(name)
    for code, names in moves.items():
        restart(root, names, progress, code)
    return sorted(name for names in moves.values() for name in names)
