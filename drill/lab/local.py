"""The local lab: every service as a background uvicorn process on 127.0.0.1 serving the tree's
code, with its state (pids, logs, SQLite databases) in the tree's `.drill/` folder. Prometheus
and Alertmanager, when installed, run beside it the same way (drill/observability.py).

Each process is started in its own session and recorded with its start time; stopping it goes
through drill.processes, which signals a pid only while it is still that process.
"""

import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drill import processes
from drill.database import DatabaseUnavailable
from drill.database import choose as choose_database
from drill.lab.state import (
    READY_TIMEOUT_S,
    LabError,
    RunningService,
    answers,
    forget,
    read_database,
    read_state,
    write_state,
)
from drill.paths import state_dir
from drill.services import SERVICES, ServiceSpec
from drill.traces.settings import RECEIVER, otlp_environment

STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Launch:
    """How the lab starts one process: a service of ours, or a tool such as Prometheus."""

    name: str
    argv: list[str]
    port: int
    ready_path: str
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    code: str = ""  # a service's: the folder whose services/ it serves ("" for the tree)

    @property
    def url(self) -> str:
        """Base URL on the host."""
        return f"http://127.0.0.1:{self.port}"


def _environment(root: Path, code: Path, spec: ServiceSpec, reset_token: str) -> dict[str, str]:
    env = dict(os.environ)
    # The code it serves first (the tree's own, or a fixed copy), whatever copy is installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    env["SERVICE_NAME"] = spec.name
    env.setdefault("OTEL_SERVICE_NAME", spec.name)
    # This start reseeds; the reloads on a saved edit that follow keep the token, and the data.
    env["DB_RESET_TOKEN"] = reset_token
    for callee in spec.calls:
        env[SERVICES[callee].url_variable] = SERVICES[callee].url
    if spec.uses_database:
        database = read_database(root)
        url = database.url if database is not None else None
        env["DATABASE_URL"] = url or f"sqlite:///{state_dir(root) / 'data' / f'{spec.name}.db'}"
    # A lab started with --traces: a service (re)started later exports to the same receiver.
    receiver = read_state(root).get(RECEIVER)
    if receiver is not None:
        env.update(otlp_environment(receiver.url, env))
    return env


def service_launch(
    root: Path, spec: ServiceSpec, reset_token: str, code: Path | None = None
) -> Launch:
    """A service of ours as uvicorn serving the services/ of `code` (default: the tree's own),
    reloaded when a file of its package or of the kit is saved (as in the Docker lab): the
    reloader and its worker share a process group, which is what the lab signals to pause or
    stop the service."""
    code = code or root
    package = code / "services" / spec.app.split(".")[1]
    argv = [sys.executable, "-m", "uvicorn", spec.app, "--host", "127.0.0.1"]
    argv += ["--port", str(spec.port), "--no-access-log", "--reload"]
    argv += ["--reload-dir", str(package), "--reload-dir", str(code / "services" / "kit")]
    env = _environment(root, code, spec, reset_token)
    return Launch(spec.name, argv, spec.port, "/readyz", env, "" if code == root else str(code))


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _port_taken(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start(
    root: Path,
    names: Iterable[str] | None = None,
    extra: Sequence[Launch] = (),
    progress: Callable[[str], None] = print,
    code: Path | None = None,
) -> dict[str, RunningService]:
    """Start the named services (default: all), serving the services/ of `code` (default: the
    tree's own), and the extra processes; return once each is ready. A failed start stops
    whatever it started. A lab starting from nothing chooses its database first
    (drill.database), and every later start uses the same."""
    running = read_state(root)
    if not running or read_database(root) is None:
        try:
            database = choose_database()
        except DatabaseUnavailable as exc:
            raise LabError(str(exc)) from None
        write_state(root, running, database=database)
        progress(f"database: {database.kind} ({database.note})")
    reset_token = uuid.uuid4().hex  # every start the lab makes begins from the seed data
    launches = [
        service_launch(root, SERVICES[name], reset_token, code) for name in (names or SERVICES)
    ]
    launches += extra
    for launch in launches:
        if launch.name in running and processes.alive(running[launch.name].process):
            raise LabError(f"{launch.name} is already running (pid {running[launch.name].pid})")
        if _port_taken(launch.port):
            raise LabError(
                f"port {launch.port} is taken: another lab (or program) listens on {launch.url}; "
                "stop it first (`drill down` in its tree)"
            )
    logs = state_dir(root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started: dict[str, RunningService] = {}
    try:
        for launch in launches:
            log_path = logs / f"{launch.name}.log"
            # In the folder it serves: `python -m` puts the working directory first on sys.path.
            cwd = Path(launch.code) if launch.code else root
            _child, process = processes.spawn(launch.argv, cwd=cwd, env=launch.env, log=log_path)
            started[launch.name] = RunningService(
                launch.name, process.pid, launch.url, str(log_path), process.started, launch.code
            )
            running[launch.name] = started[launch.name]
            write_state(root, running)
            progress(f"started {launch.name} (pid {process.pid}), waiting for {launch.url}")
        for launch in launches:
            _wait_ready(launch, started[launch.name])
    except BaseException:
        stop(root, started)
        raise
    return started


def _wait_ready(launch: Launch, service: RunningService) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not processes.alive(service.process):
            raise LabError(
                f"{launch.name} exited during start-up; last lines of {service.log}:\n"
                f"{_tail(Path(service.log))}"
            )
        if answers(launch.url, launch.ready_path):
            return
        time.sleep(0.2)
    raise LabError(
        f"{launch.name} did not become ready within {READY_TIMEOUT_S:.0f} s; "
        f"last lines of {service.log}:\n{_tail(Path(service.log))}"
    )


def stop(root: Path, services: dict[str, RunningService] | None = None) -> list[str]:
    """Stop the given services (default: every one the lab started) and forget them: SIGTERM to
    each process group, SIGKILL to any still running after STOP_TIMEOUT_S, each only while its
    pid is still the process the lab started."""
    running = read_state(root)
    targets = dict(running if services is None else services)
    processes.stop_groups([s.process for s in targets.values()], STOP_TIMEOUT_S)
    remaining = {name: s for name, s in running.items() if name not in targets}
    if remaining:
        write_state(root, remaining)
    else:
        forget(root)
    return sorted(targets)
