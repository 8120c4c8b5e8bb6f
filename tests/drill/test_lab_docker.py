"""The Docker backend of the lab (drill/lab/docker.py) without an engine: what each lab
operation asks `docker compose` to do once lab.json says the lab runs in Docker (the live tests,
in tests/infra/test_docker_live.py, run the same operations on a real engine)."""

import subprocess
from pathlib import Path

import pytest

from drill import lab
from drill.lab import docker as lab_docker
from drill.lab import state as lab_state

COMPOSE = ["docker", "compose", "--project-name", "drilltest"]


# The DRILL_RESET_TOKEN each recorded command ran with (None: none given).
TOKENS: list[str | None] = []


@pytest.fixture
def calls(tree: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every command the lab runs, recorded and answered with success; every service ready."""
    recorded: list[list[str]] = []

    def run(
        argv: list[str], timeout: float, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        recorded.append(argv)
        TOKENS.append((env or {}).get("DRILL_RESET_TOKEN"))
        return subprocess.CompletedProcess(argv, 0, "", "")

    TOKENS.clear()
    monkeypatch.setattr(lab_docker, "_run", run)
    monkeypatch.setattr(lab_docker, "answers", lambda url, path: True)
    running = {
        name: lab.RunningService(name, 0, f"http://127.0.0.1:{port}", f"make logs service={name}")
        for name, port in (("billing", 8001), ("service-c", 5003))
    }
    lab_state.write_state(tree, running, lab.DOCKER, COMPOSE)
    return recorded


def test_a_grader_stopping_and_starting_a_service_becomes_compose_stop_and_start(
    tree: Path, calls: list[list[str]]
) -> None:
    stopped = lab.stop(tree, {"service-c": lab.read_state(tree)["service-c"]})
    still_known = set(lab.read_state(tree))
    started = lab.start(tree, ["service-c"], progress=lambda _line: None)

    assert calls == [[*COMPOSE, "stop", "service-c"], [*COMPOSE, "start", "service-c"]]
    assert stopped == ["service-c"]
    # The container stays part of the lab while stopped, to be started again.
    assert still_known == {"billing", "service-c"}
    assert list(started) == ["service-c"]


def test_solve_restarting_a_service_recreates_it_from_the_seed_data(
    tree: Path, calls: list[list[str]]
) -> None:
    lab.restart(tree, ["billing", "orders"], progress=lambda _line: None)
    lab.restart(tree, ["billing"], progress=lambda _line: None)

    # orders is not in this lab: only what runs is restarted.
    assert calls == 2 * [[*COMPOSE, "up", "--detach", "--no-deps", "--force-recreate", "billing"]]
    # Each with a token of its own: the recreated container resets its tables once.
    assert None not in TOKENS and len(set(TOKENS)) == 2


def test_down_takes_the_whole_compose_project_down_and_forgets_it(
    tree: Path, calls: list[list[str]]
) -> None:
    stopped = lab.stop(tree)

    assert calls == [[*COMPOSE, "down", "--volumes", "--remove-orphans"]]
    assert stopped == ["billing", "service-c"]
    assert lab.read_mode(tree) is None
    assert not (tree / ".drill" / "lab.json").exists()


def test_the_project_and_files_come_from_the_compose_variables(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPOSE_FILE", "docker-compose.yml:infra/docker/compose.ci.yml")
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "mylab")

    argv = lab.Compose.for_tree(tree).argv

    assert argv[:2] == ["docker", "compose"]
    assert argv[argv.index("--project-name") + 1] == "mylab"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--file"] == [
        str(tree / "docker-compose.yml"),
        str(tree / "infra" / "docker" / "compose.ci.yml"),
    ]


def test_an_answering_engine_means_docker_unless_a_port_offset_is_set(
    tree: Path, calls: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tree / "docker-compose.yml").write_text("services: {}\n")
    monkeypatch.setattr("drill.lab.docker.shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setenv("DRILL_PORT_OFFSET", "0")
    without_offset = lab.docker_unavailable(tree)
    monkeypatch.setenv("DRILL_PORT_OFFSET", "200")
    with_offset = lab.docker_unavailable(tree)

    assert [call[:2] for call in calls[:2]] == [["docker", "info"], ["docker", "compose"]]
    assert without_offset is None
    assert with_offset is not None and "DRILL_PORT_OFFSET" in with_offset


def test_an_interrupted_up_is_recorded_first_so_drill_down_takes_it_down(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `up` is interrupted (Ctrl-C) while compose starts containers, and the clean-up's own
    # `compose down` fails too: the lab must stay recorded, and the interruption surface.
    recorded: list[list[str]] = []
    mode_during_up: list[str | None] = []

    def run(
        argv: list[str], timeout: float, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        recorded.append(argv)
        if "up" in argv:
            mode_during_up.append(lab.read_mode(tree))
            raise KeyboardInterrupt
        return subprocess.CompletedProcess(argv, 1, "", "engine busy")

    monkeypatch.setattr(lab_docker, "_run", run)
    monkeypatch.delenv("DRILL_DOCKER_SERVICES", raising=False)
    with pytest.raises(KeyboardInterrupt):
        lab.Compose(tree, COMPOSE).up(progress=lambda _line: None)

    assert mode_during_up == [lab.DOCKER]
    assert recorded[-1] == [*COMPOSE, "down", "--volumes", "--remove-orphans"]
    assert lab.read_mode(tree) == lab.DOCKER

    # `drill down` later: the recorded compose project is taken down and forgotten.
    def run_ok(
        argv: list[str], timeout: float, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        recorded.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(lab_docker, "_run", run_ok)
    stopped = lab.stop(tree)

    assert recorded[-1] == [*COMPOSE, "down", "--volumes", "--remove-orphans"]
    assert "billing" in stopped
    assert not (tree / ".drill" / "lab.json").exists()


def test_a_service_never_ready_takes_the_lab_down_and_raises_its_own_error(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded: list[list[str]] = []

    def run(
        argv: list[str], timeout: float, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        recorded.append(argv)
        if "ps" in argv:
            return subprocess.CompletedProcess(argv, 0, "billing\npostgres\n", "")
        if "down" in argv:  # a failing clean-up must not hide why the start failed
            return subprocess.CompletedProcess(argv, 1, "", "down failed")
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(lab_docker, "_run", run)
    monkeypatch.setattr(lab_docker, "answers", lambda url, path: False)
    monkeypatch.setattr(lab_docker, "DOCKER_READY_TIMEOUT_S", 0.0)
    monkeypatch.setenv("DRILL_DOCKER_SERVICES", "billing postgres")
    with pytest.raises(lab.LabError, match="billing did not become ready"):
        lab.Compose(tree, COMPOSE).up(progress=lambda _line: None)

    assert [*COMPOSE, "down", "--volumes", "--remove-orphans"] in recorded
    # The clean-up failed, so the lab stays recorded for `drill down`.
    assert set(lab.read_state(tree)) == {"billing"}
