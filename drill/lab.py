"""The lab, in one of two modes, behind one set of operations (start, stop, restart, read_state):

- local: every service as a background uvicorn process on 127.0.0.1, serving the tree's code, with
  its state (pids, logs, SQLite databases) in the tree's `.drill/` folder;
- docker: the tree's docker-compose.yml run by `docker compose` (the Compose class below), the
  tree's code bind-mounted into the containers; stop, start and restart of a service become
  `docker compose stop|start|restart SERVICE`.

`.drill/lab.json` records which mode runs, so that every later command (a grader that stops
service-c, `drill solve` restarting a service, `drill down`) does the same thing the same way.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from drill.database import POSTGRESQL, DatabaseUnavailable, LabDatabase
from drill.database import choose as choose_database
from drill.paths import state_dir
from drill.services import (
    ALERTMANAGER_PORT,
    PROMETHEUS_PORT,
    SERVICES,
    ServiceSpec,
    port_offset,
)
from drill.traces.settings import RECEIVER, otlp_environment

READY_TIMEOUT_S = 120.0  # a busy machine: import, schema and a 47,000-entry seed
STOP_TIMEOUT_S = 10.0
# A cold Docker lab: PostgreSQL initialises its data directory, then every service starts.
DOCKER_READY_TIMEOUT_S = 240.0
DOCKER_COMMAND_TIMEOUT_S = 600.0
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


def _state_file(root: Path) -> Path:
    return state_dir(root) / "lab.json"


def _read_raw(root: Path) -> dict[str, Any]:
    try:
        raw = json.loads(_state_file(root).read_text())
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LabError(
            f"cannot read {_state_file(root)} ({exc}); delete it, and stop by hand any lab "
            "process still running (`ss -ltnp` shows who holds the lab's ports)"
        ) from exc
    return raw


def read_state(root: Path) -> dict[str, RunningService]:
    """The services the lab started from this tree and believes are running."""
    raw = _read_raw(root)
    return {name: RunningService(**entry) for name, entry in raw.get("services", {}).items()}


def read_database(root: Path) -> LabDatabase | None:
    """The database the tree's lab was started with; None when no lab has recorded one."""
    recorded = _read_raw(root).get("database")
    return LabDatabase(**recorded) if isinstance(recorded, dict) else None


def read_mode(root: Path) -> str | None:
    """`local` or `docker`: how the tree's lab runs; None when it does not."""
    raw = _read_raw(root)
    return str(raw.get("mode", LOCAL)) if raw.get("services") else None


def _write_state(
    root: Path,
    services: dict[str, RunningService],
    mode: str = LOCAL,
    compose: list[str] | None = None,
    database: LabDatabase | None = None,
) -> None:
    path = _state_file(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state: dict[str, Any] = {"mode": mode, "services": {n: asdict(s) for n, s in services.items()}}
    if compose is not None:
        state["compose"] = compose
    # The database is chosen once, when the lab starts: a service restarted later (a solve, the
    # grader's restart of service-c) must find the same data.
    state["database"] = asdict(database) if database else _read_raw(root).get("database")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)  # atomic: a crash never leaves half a state file


def _alive(pid: int) -> bool:
    if pid <= 0:  # not a process of ours: 0 and -1 would mean our own group, or everyone
        return False
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(url: str, path: str) -> bool:
    try:
        return httpx.get(url + path, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _environment(root: Path, spec: ServiceSpec) -> dict[str, str]:
    env = dict(os.environ)
    # The tree's own code first, whatever copy of the lab is installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env["SERVICE_NAME"] = spec.name
    env.setdefault("OTEL_SERVICE_NAME", spec.name)
    env["DB_RESET_ON_START"] = "true"
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


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass(frozen=True)
class Launch:
    """How the lab starts one process: a service of ours, or a tool such as Prometheus."""

    name: str
    argv: list[str]
    port: int
    ready_path: str
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def url(self) -> str:
        """Base URL on the host."""
        return f"http://127.0.0.1:{self.port}"


def service_launch(root: Path, spec: ServiceSpec) -> Launch:
    """A service of ours as uvicorn serving the tree's code."""
    argv = [sys.executable, "-m", "uvicorn", spec.app, "--host", "127.0.0.1"]
    argv += ["--port", str(spec.port), "--no-access-log"]
    return Launch(spec.name, argv, spec.port, "/readyz", _environment(root, spec))


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
) -> dict[str, RunningService]:
    """Start the named services (default: all) and the extra processes; return once each is
    ready. When the tree's lab runs in Docker, start those of its containers instead."""
    if read_mode(root) == DOCKER:
        compose = Compose.from_state(root)
        wanted = list(names or SERVICES)
        compose.start(wanted, progress)
        state = read_state(root)
        return {name: state[name] for name in wanted if name in state}
    running = read_state(root)
    if not running or read_database(root) is None:
        try:
            database = choose_database()
        except DatabaseUnavailable as exc:
            raise LabError(str(exc)) from None
        _write_state(root, running, database=database)
        progress(f"database: {database.kind} ({database.note})")
    launches = [service_launch(root, SERVICES[name]) for name in (names or SERVICES)]
    launches += extra
    for launch in launches:
        if launch.name in running and _alive(running[launch.name].pid):
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
            with log_path.open("ab") as log:
                process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                    launch.argv,
                    cwd=root,
                    env=launch.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            started[launch.name] = RunningService(
                launch.name, process.pid, launch.url, str(log_path)
            )
            running[launch.name] = started[launch.name]
            _write_state(root, running)
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
        if not _alive(service.pid):
            raise LabError(
                f"{launch.name} exited during start-up; last lines of {service.log}:\n"
                f"{_tail(Path(service.log))}"
            )
        if _answers(launch.url, launch.ready_path):
            return
        time.sleep(0.2)
    raise LabError(
        f"{launch.name} did not become ready within {READY_TIMEOUT_S:.0f} s; "
        f"last lines of {service.log}:\n{_tail(Path(service.log))}"
    )


def stop(root: Path, services: dict[str, RunningService] | None = None) -> list[str]:
    """Stop the given services (default: every one the lab started) and forget them. In the
    Docker lab: stop those containers (they stay in the lab, to start again), or, with no names,
    take the whole lab down."""
    if read_mode(root) == DOCKER:
        compose = Compose.from_state(root)
        if services is None:
            return compose.down()
        return compose.stop(list(services))
    running = read_state(root)
    targets = dict(running if services is None else services)
    for service in targets.values():
        _signal_group(service.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for service in targets.values():
        while _alive(service.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(service.pid):
            _signal_group(service.pid, signal.SIGKILL)
        _reap(service.pid)
    remaining = {name: s for name, s in running.items() if name not in targets}
    if remaining:
        _write_state(root, remaining)
    else:
        _state_file(root).unlink(missing_ok=True)
    return sorted(targets)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The service was started as a session leader: its process group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _reap(pid: int) -> None:
    """Collect the exit status when the service is our own child (as in the tests)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def restart(root: Path, names: Iterable[str], progress: Callable[[str], None] = print) -> None:
    """Restart the named services if the lab runs them, so they serve the tree's current code."""
    running = read_state(root)
    targets = {name: running[name] for name in names if name in running}
    if targets and read_mode(root) == DOCKER:
        Compose.from_state(root).restart(list(targets), progress)
    elif targets:
        stop(root, targets)
        start(root, targets, progress=progress)


# ---- the Docker lab -----------------------------------------------------------------------------

COMPOSE_FILE = "docker-compose.yml"


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a command (an argument list, never a shell string); a missing binary or a hang is a
    failed run, not an exception."""
    try:
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(argv, 127, "", str(exc))


def docker_unavailable(root: Path) -> str | None:
    """Why the Docker lab cannot start here (no engine answers, no compose v2, no compose file,
    a port offset), or None when it can."""
    if shutil.which("docker") is None:
        return "no `docker` command on PATH"
    info = _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=15)
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no Docker engine answers ({last})"
    if _run(["docker", "compose", "version"], timeout=15).returncode != 0:
        return "Docker Compose v2 (`docker compose`) is not installed"
    if not (root / COMPOSE_FILE).is_file():
        return f"no {COMPOSE_FILE} in {root}"
    if port_offset():
        return (
            "the Docker lab publishes the brief's ports only, and DRILL_PORT_OFFSET is "
            f"{port_offset()}"
        )
    return None


def _compose_files(root: Path) -> list[str]:
    """The compose files, as docker compose chooses them: those COMPOSE_FILE names when it is set
    (paths separated by os.pathsep, relative to the tree; CI's is
    `docker-compose.yml:infra/docker/compose.ci.yml`), else docker-compose.yml alone."""
    named = [f for f in os.environ.get("COMPOSE_FILE", "").split(os.pathsep) if f]
    files = named if named else [COMPOSE_FILE]
    return [str((root / f).resolve()) for f in files]


def _project_name(root: Path) -> str:
    """COMPOSE_PROJECT_NAME, else compose's own default: the tree's folder name, normalised."""
    given = os.environ.get("COMPOSE_PROJECT_NAME", "")
    name = given or re.sub(r"[^a-z0-9_-]", "", root.name.lower()).lstrip("_-")
    return name or "drill-lab"


def _requested_services() -> list[str]:
    """DRILL_DOCKER_SERVICES (names separated by spaces or commas): the compose services to
    start, with what they depend on; every service of docker-compose.yml when unset. CI names
    the subset it has images for (no Jaeger, Grafana or Locust there)."""
    return [
        name for name in re.split(r"[\s,]+", os.environ.get("DRILL_DOCKER_SERVICES", "")) if name
    ]


@dataclass(frozen=True)
class Compose:
    """The tree's lab as one compose project; `argv` is `docker compose` with the project's name,
    directory and files, recorded in the state file so every later command uses the same."""

    root: Path
    argv: list[str]

    @classmethod
    def for_tree(cls, root: Path) -> "Compose":
        """The compose project of this tree, as `drill up --mode docker` starts it."""
        argv = ["docker", "compose", "--project-directory", str(root)]
        argv += ["--project-name", _project_name(root)]
        for file in _compose_files(root):
            argv += ["--file", file]
        return cls(root, argv)

    @classmethod
    def from_state(cls, root: Path) -> "Compose":
        """The compose project the state file recorded when the lab started."""
        argv = _read_raw(root).get("compose")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise LabError(f"{_state_file(root)} names no compose project; delete it")
        return cls(root, argv)

    def _compose(self, *args: str, timeout: float = DOCKER_COMMAND_TIMEOUT_S) -> str:
        result = _run([*self.argv, *args], timeout)
        if result.returncode != 0:
            raise LabError(
                f"`docker compose {' '.join(args)}` failed (exit {result.returncode}):\n"
                + "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            )
        return result.stdout

    def logs_hint(self, name: str) -> str:
        """How to read a service's log (the JSON lines go to the container's stdout)."""
        return f"make logs service={name}"

    def up(self, progress: Callable[[str], None]) -> dict[str, RunningService]:
        """`docker compose up -d --wait` (building our image if it is missing), then wait for each
        service of ours to answer /readyz on its host port. The state file names the compose
        project before `up` starts anything, so that `drill down` can take down whatever an
        interrupted or failed start left running; a failed start takes the project down itself
        (quietly: the error raised is the one that stopped it)."""
        requested = _requested_services()
        progress(
            "docker compose up -d --wait "
            + (" ".join(requested) if requested else "(every service of docker-compose.yml)")
        )
        database = LabDatabase(POSTGRESQL, None, "the Docker lab's PostgreSQL container")
        _write_state(self.root, self._expected(requested), DOCKER, self.argv, database)
        try:
            try:
                self._compose("up", "--detach", "--wait", *requested)
                started = self._compose("ps", "--services", "--status", "running").split()
            except LabError as exc:
                raise LabError(
                    f"{exc}\nWhere no registry can be reached, make the images locally "
                    "(infra/README.md, 'CI: the Docker lab without a registry'), or run the "
                    "local lab: make up MODE=local"
                ) from None
            running = {
                name: RunningService(name, 0, SERVICES[name].url, self.logs_hint(name))
                for name in started
                if name in SERVICES
            }
            for name, (port, _path) in TOOL_PORTS.items():
                if name in started:
                    url = f"http://127.0.0.1:{port}"
                    running[name] = RunningService(name, 0, url, self.logs_hint(name))
            _write_state(self.root, running, DOCKER, self.argv)
            self._wait_ready(list(running), DOCKER_READY_TIMEOUT_S)
        except BaseException:  # a failure, a timeout, Ctrl-C: nothing may stay up unrecorded
            self._down_quietly()
            raise
        return running

    def _expected(self, requested: list[str]) -> dict[str, RunningService]:
        """What the state file records while `up` runs: the services of ours and the tools that
        were asked for (all of them when none was named); `up` records what actually runs once
        it knows."""
        urls = {name: spec.url for name, spec in SERVICES.items()}
        urls |= {name: f"http://127.0.0.1:{port}" for name, (port, _path) in TOOL_PORTS.items()}
        names = [name for name in urls if name in requested] or list(urls)
        return {name: RunningService(name, 0, urls[name], self.logs_hint(name)) for name in names}

    def _down_quietly(self) -> None:
        """Take the project down, ignoring a failure; forget the lab only once it is down (else
        the state file stays, for `drill down` to try again)."""
        with contextlib.suppress(LabError):
            self._compose("down", "--volumes", "--remove-orphans")
            _state_file(self.root).unlink(missing_ok=True)

    def down(self) -> list[str]:
        """Stop and remove the lab's containers, network and anonymous volumes; forget the lab."""
        names = sorted(read_state(self.root))
        self._compose("down", "--volumes", "--remove-orphans")
        _state_file(self.root).unlink(missing_ok=True)
        return names

    def stop(self, names: list[str]) -> list[str]:
        """`docker compose stop NAMES`: the containers stay, to start again."""
        self._compose("stop", *names)
        return sorted(names)

    def start(self, names: list[str], progress: Callable[[str], None]) -> None:
        """`docker compose start NAMES`, then wait until they are ready."""
        self._compose("start", *names)
        progress(f"started {', '.join(names)} (docker compose start)")
        self._wait_ready(names, READY_TIMEOUT_S)

    def restart(self, names: list[str], progress: Callable[[str], None]) -> None:
        """`docker compose restart NAMES` (a fresh process: the database reset on start, the tree's
        current code imported), then wait until they are ready."""
        self._compose("restart", *names)
        progress(f"restarted {', '.join(names)} (docker compose restart)")
        self._wait_ready(names, READY_TIMEOUT_S)

    def _wait_ready(self, names: list[str], timeout: float) -> None:
        """Each service answers its readiness path on its host port (through docker's port
        forwarding: what the graders use)."""
        running = read_state(self.root)
        deadline = time.monotonic() + timeout
        for name in names:
            path = "/readyz" if name in SERVICES else TOOL_PORTS[name][1]
            while not _answers(running[name].url, path):
                if time.monotonic() > deadline:
                    logs = _run([*self.argv, "logs", "--tail", "15", name], timeout=30)
                    raise LabError(
                        f"{name} did not become ready within {timeout:.0f} s; its last log "
                        f"lines:\n{logs.stdout.strip() or logs.stderr.strip()}"
                    )
                time.sleep(0.5)


# Third-party services of the Docker lab that `drill up` reports and waits for: host port and
# readiness path (the brief's ports; docker-compose.yml publishes them on 127.0.0.1).
TOOL_PORTS: dict[str, tuple[int, str]] = {
    "prometheus": (PROMETHEUS_PORT, "/-/ready"),
    "alertmanager": (ALERTMANAGER_PORT, "/-/ready"),
    "grafana": (3000, "/api/health"),
    "jaeger": (16686, "/"),
    "locust": (8089, "/"),
}


def start_docker(root: Path, progress: Callable[[str], None] = print) -> dict[str, RunningService]:
    """Start the tree's Docker lab (`drill up --mode docker`); return once every service of ours
    answers /readyz. Refuses when a lab of this tree already runs."""
    if read_state(root):
        raise LabError(
            f"the lab of {root} is already running ({read_mode(root)}); drill down first"
        )
    reason = docker_unavailable(root)
    if reason is not None:
        raise LabError(f"cannot start the Docker lab: {reason}")
    return Compose.for_tree(root).up(progress)
