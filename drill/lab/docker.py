"""The Docker lab: the tree's docker-compose.yml run by `docker compose` (the Compose class),
the tree's code bind-mounted into the containers. Stopping, starting and restarting a service
become `docker compose stop|start SERVICE` and `up --force-recreate SERVICE`; taking the lab
down, `docker compose down`.
No process is ever signalled: a container's RunningService has pid 0.
"""

import contextlib
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drill.database import POSTGRESQL, LabDatabase
from drill.lab.state import (
    DOCKER,
    READY_TIMEOUT_S,
    LabError,
    RunningService,
    answers,
    forget,
    read_mode,
    read_raw,
    read_state,
    state_file,
    write_state,
)
from drill.services import ALERTMANAGER_PORT, PROMETHEUS_PORT, SERVICES, port_offset

# A cold Docker lab: PostgreSQL initialises its data directory, then every service starts.
DOCKER_READY_TIMEOUT_S = 240.0
DOCKER_COMMAND_TIMEOUT_S = 600.0


COMPOSE_FILE = "docker-compose.yml"


def _run(
    argv: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command (an argument list, never a shell string); a missing binary or a hang is a
    failed run, not an exception."""
    try:
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv, capture_output=True, text=True, timeout=timeout, check=False, env=env
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
            "the Docker lab publishes the standard ports only (docs/contracts.md), and "
            "DRILL_PORT_OFFSET is "
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
        argv = read_raw(root).get("compose")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise LabError(f"{state_file(root)} names no compose project; delete it")
        return cls(root, argv)

    def _compose(
        self,
        *args: str,
        timeout: float = DOCKER_COMMAND_TIMEOUT_S,
        reset: bool = False,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run `docker compose ARGS` (with `env` added to the environment); with `reset`, the
        containers it creates start from the seed data (a fresh DRILL_RESET_TOKEN,
        docker-compose.yml)."""
        if reset:
            env = {**(env or {}), "DRILL_RESET_TOKEN": uuid.uuid4().hex}
        result = _run([*self.argv, *args], timeout, {**os.environ, **env} if env else None)
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
        write_state(self.root, self._expected(requested), DOCKER, self.argv, database)
        try:
            try:
                self._compose("up", "--detach", "--wait", *requested, reset=True)
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
            write_state(self.root, running, DOCKER, self.argv)
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
            forget(self.root)

    def down(self) -> list[str]:
        """Stop and remove the lab's containers, network and anonymous volumes; forget the lab."""
        names = sorted(read_state(self.root))
        self._compose("down", "--volumes", "--remove-orphans")
        forget(self.root)
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

    def restart(
        self, names: list[str], progress: Callable[[str], None], code: Path | None = None
    ) -> None:
        """Recreate NAMES' containers (fresh processes importing the current code of the tree, or
        of the services/ in `code`, their databases reseeded), then wait until they are ready.
        docker-compose.yml mounts DRILL_CODE_<NAME> as a service's code, ./services by default."""
        mounts = {code_variable(name): str(code / "services") for name in names} if code else {}
        self._compose(
            "up", "--detach", "--no-deps", "--force-recreate", *names, reset=True, env=mounts
        )
        running = read_state(self.root)
        for name in names:
            if name in running:
                running[name].code = str(code) if code else ""
        write_state(self.root, running, DOCKER, self.argv)
        progress(f"restarted {', '.join(names)} (docker compose up --force-recreate)")
        self._wait_ready(names, READY_TIMEOUT_S)

    def _wait_ready(self, names: list[str], timeout: float) -> None:
        """Each service answers its readiness path on its host port (through docker's port
        forwarding: what the graders use)."""
        running = read_state(self.root)
        deadline = time.monotonic() + timeout
        for name in names:
            path = "/readyz" if name in SERVICES else TOOL_PORTS[name][1]
            while not answers(running[name].url, path):
                if time.monotonic() > deadline:
                    logs = _run([*self.argv, "logs", "--tail", "15", name], timeout=30)
                    raise LabError(
                        f"{name} did not become ready within {timeout:.0f} s; its last log "
                        f"lines:\n{logs.stdout.strip() or logs.stderr.strip()}"
                    )
                time.sleep(0.5)


# Third-party services of the Docker lab that `drill up` reports and waits for: host port and
# readiness path (the standard ports of docs/contracts.md; docker-compose.yml publishes them on
# 127.0.0.1).
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


def start(
    root: Path, names: list[str], progress: Callable[[str], None]
) -> dict[str, RunningService]:
    """Start those services of the running Docker lab again (`docker compose start`)."""
    Compose.from_state(root).start(names, progress)
    state = read_state(root)
    return {name: state[name] for name in names if name in state}


def stop(root: Path, names: list[str] | None) -> list[str]:
    """Stop those containers (they stay in the lab, to start again), or, with no names, take the
    whole lab down."""
    compose = Compose.from_state(root)
    return compose.down() if names is None else compose.stop(names)


def code_variable(name: str) -> str:
    """The variable docker-compose.yml mounts as the service's code (DRILL_CODE_SERVICE_A)."""
    return "DRILL_CODE_" + name.upper().replace("-", "_")


def restart(
    root: Path, names: list[str], progress: Callable[[str], None], code: Path | None = None
) -> None:
    """Restart those containers from the seed data (`docker compose up --force-recreate`),
    serving the tree's code, or the services/ of `code`."""
    Compose.from_state(root).restart(names, progress, code)
