"""The local lab: every service as a background uvicorn process on 127.0.0.1, serving the tree's
code, with its state (pids, logs, SQLite databases) in the tree's `.drill/` folder."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from drill.paths import state_dir
from drill.services import SERVICES, ServiceSpec

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class LabError(Exception):
    """The lab could not be started or stopped; the message says why and what to do."""


@dataclass
class RunningService:
    """A service process the lab started."""

    name: str
    pid: int
    url: str
    log: str


def _state_file(root: Path) -> Path:
    return state_dir(root) / "lab.json"


def read_state(root: Path) -> dict[str, RunningService]:
    """The services the lab started from this tree and believes are running."""
    try:
        raw = json.loads(_state_file(root).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LabError(
            f"cannot read {_state_file(root)} ({exc}); delete it, and stop by hand any lab "
            "process still running (`ss -ltnp` shows who holds the lab's ports)"
        ) from exc
    return {name: RunningService(**entry) for name, entry in raw.get("services", {}).items()}


def _write_state(root: Path, services: dict[str, RunningService]) -> None:
    path = _state_file(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"services": {n: asdict(s) for n, s in services.items()}}, indent=2))
    tmp.replace(path)  # atomic: a crash never leaves half a state file


def _alive(pid: int) -> bool:
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
    if spec.uses_database and "DATABASE_URL" not in os.environ:
        env["DATABASE_URL"] = f"sqlite:///{state_dir(root) / 'data' / f'{spec.name}.db'}"
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
    ready."""
    launches = [service_launch(root, SERVICES[name]) for name in (names or SERVICES)]
    launches += extra
    running = read_state(root)
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
    """Stop the given services (default: every one the lab started) and forget them."""
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
    if targets:
        stop(root, targets)
        start(root, targets, progress=progress)
