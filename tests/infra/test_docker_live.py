"""The Docker lab on a real Docker engine: `drill up --mode docker` in a copy of the tree, then
every drill graded across the containers (fails on the poisoned code, passes after `drill solve`),
the dark-room tools inside a container, Prometheus scraping the containers, and `drill down`.

What runs is docker-compose.yml itself, through the files COMPOSE_FILE names: by default CI's
override (infra/docker/compose.ci.yml), which only swaps image names for the images
scripts/docker-ci-engine makes without a registry, and the subset of services those images cover
(no Jaeger, Grafana or Locust). DRILL_TEST_COMPOSE_FILE and DRILL_TEST_DOCKER_SERVICES choose
others (e.g. `docker-compose.yml` and every service, on a machine that can pull images).

Without an engine, the compose plugin or the images these tests skip and say why; with
DRILL_TEST_DOCKER=1 (set by .ci/run) they fail instead, so CI cannot pass without running them.
The lab uses the standard host ports of docs/contracts.md (the Docker lab has no port offset), so
a port already taken fails or skips the module before anything starts, and the lab is always
taken down afterwards.
"""

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from drill import fixes
from drill.services import SERVICES
from tests.conftest import REPO, SERVED_BY, copy_tree, drill, failed, verify_json

pytestmark = [pytest.mark.docker, pytest.mark.slow]

COMPOSE_FILES = os.environ.get(
    "DRILL_TEST_COMPOSE_FILE",
    os.pathsep.join(["docker-compose.yml", "infra/docker/compose.ci.yml"]),
)
DOCKER_SERVICES = os.environ.get(
    "DRILL_TEST_DOCKER_SERVICES", " ".join([*SERVICES, "prometheus", "alertmanager"])
).split()
# What the Docker lab's tree needs beyond the local lab's: the compose files and their .env, and
# the folders compose bind-mounts or builds from.
DOCKER_TREE_PARTS = ("loadgen",)
DOCKER_TREE_FILES = ("docker-compose.yml", ".env", "pyproject.toml")
LAB_PORTS = [spec.base_port for spec in SERVICES.values()] + [9090, 9093]
# For each drill, a check its poisoned code fails in seconds: the whole poisoned scorecard is
# proven by the grader tests on the local lab; here, that verify reaches the containers.
CAUGHT_BY = {
    "float-drift": "money never passes through float",
    "circular-deadlock": "nothing calls back upstream: the call graph is a line",
    "n-plus-one": "cold prices: one catalog call per 500 SKUs, on both routes",
}
SCENARIOS = tuple(CAUGHT_BY)


def _unavailable(reason: str) -> None:
    """Skip with the reason; fail instead where CI demands the Docker lab (DRILL_TEST_DOCKER=1)."""
    if os.environ.get("DRILL_TEST_DOCKER") == "1":
        pytest.fail(f"DRILL_TEST_DOCKER=1 but {reason} (run scripts/docker-ci-engine)")
    pytest.skip(reason)


def _run(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        list(argv),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{argv}: {result.stdout}{result.stderr}"
    return result.stdout


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def docker_env() -> dict[str, str]:
    """The environment every `drill` and `docker compose` call of this module runs with."""
    return {
        "COMPOSE_FILE": COMPOSE_FILES,
        "COMPOSE_PROJECT_NAME": f"drilltest{os.getpid()}",
        "DRILL_DOCKER_SERVICES": " ".join(DOCKER_SERVICES),
        "DRILL_PORT_OFFSET": "0",
    }


@pytest.fixture(scope="module")
def docker_tree(tmp_path_factory: pytest.TempPathFactory, docker_env: dict[str, str]) -> Path:
    """A copy of the tree the Docker lab can run from, once the engine and images are there."""
    from drill import lab

    tree = copy_tree(tmp_path_factory.mktemp("docker") / "lab")
    for part in DOCKER_TREE_PARTS:
        _run("cp", "-r", str(REPO / part), str(tree / part))
    for name in DOCKER_TREE_FILES:
        _run("cp", str(REPO / name), str(tree / name))
    with pytest.MonkeyPatch.context() as patch:
        # The lab's own port offset, not the one a caller's environment may carry.
        patch.setenv("DRILL_PORT_OFFSET", docker_env["DRILL_PORT_OFFSET"])
        reason = lab.docker_unavailable(tree)
    if reason is not None:
        _unavailable(reason)
    images = _run(
        "docker", "compose", "config", "--images", *DOCKER_SERVICES, cwd=tree, env=docker_env
    )
    for image in sorted(set(images.split())):
        found = subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, check=False
        )
        if found.returncode != 0:
            _unavailable(f"no image {image} on this engine")
    taken = [port for port in LAB_PORTS if _port_in_use(port)]
    if taken:
        _unavailable(f"ports {taken} are taken: another lab runs (drill down it first)")
    return tree


@pytest.fixture(scope="module")
def docker_lab(docker_tree: Path, docker_env: dict[str, str]) -> Iterator[Path]:
    """The Docker lab running from the copy; taken down afterwards, whatever happened."""
    started = time.monotonic()
    result = drill(docker_tree, "up", "--mode", "docker", env=docker_env, timeout=900)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        print(f"drill up --mode docker: {time.monotonic() - started:.1f} s")
        yield docker_tree
    finally:
        drill(docker_tree, "down", env=docker_env, timeout=300)
        # Whatever drill believed: no container of the project may outlive the tests.
        subprocess.run(
            ["docker", "compose", "down", "--volumes", "--remove-orphans", "--timeout", "5"],
            cwd=docker_tree,
            env={**os.environ, **docker_env},
            capture_output=True,
            check=False,
            timeout=300,
        )


def compose(tree: Path, env: dict[str, str], *args: str) -> str:
    """`docker compose ARGS` for the lab of the tree."""
    return _run("docker", "compose", *args, cwd=tree, env=env)


def test_up_starts_every_service_in_containers_and_records_docker_mode(
    docker_lab: Path, docker_env: dict[str, str]
) -> None:
    state = json.loads((docker_lab / ".drill" / "lab.json").read_text())
    running = compose(docker_lab, docker_env, "ps", "--services", "--status", "running").split()

    assert state["mode"] == "docker"
    assert set(state["services"]) == set(DOCKER_SERVICES)
    assert set(running) >= {*DOCKER_SERVICES, "postgres"}
    assert not {"jaeger", "grafana", "locust"} & set(running)
    for spec in SERVICES.values():
        assert httpx.get(f"{spec.url}/readyz", timeout=5).status_code == 200, spec.name


def test_ports_are_published_on_loopback_only_and_services_run_as_non_root(
    docker_lab: Path, docker_env: dict[str, str]
) -> None:
    for name, spec in SERVICES.items():
        published = compose(docker_lab, docker_env, "port", name, str(spec.base_port)).strip()
        uid = compose(docker_lab, docker_env, "exec", "-T", name, "id", "-u").strip()

        assert published == f"127.0.0.1:{spec.base_port}", name
        assert uid != "0", name


def test_no_container_holds_the_graders_or_the_answers(
    docker_lab: Path, docker_env: dict[str, str]
) -> None:
    """A trainee can exec into every container: the code there is the services' and the load's."""
    for name in SERVICES:
        app = compose(docker_lab, docker_env, "exec", "-T", name, "ls", "-A", "/app").split()

        assert sorted(app) == ["loadgen", "pyproject.toml", "services"], name


def test_billing_runs_on_postgresql_in_its_container(
    docker_lab: Path, docker_env: dict[str, str]
) -> None:
    tables = compose(
        docker_lab,
        docker_env,
        "exec",
        "-T",
        "postgres",
        "psql",
        "-U",
        "drill",
        "-d",
        "billing",
        "-tAc",
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )

    assert int(tables.strip()) > 0


def test_curl_and_netstat_work_inside_a_container(
    docker_lab: Path, docker_env: dict[str, str]
) -> None:
    # From one container to another by compose hostname, as a trainee would probe a callee.
    health = compose(
        docker_lab,
        docker_env,
        "exec",
        "-T",
        "service-a",
        "curl",
        "-fsS",
        "http://billing:8001/healthz",
    )
    listening = compose(docker_lab, docker_env, "exec", "-T", "billing", "netstat", "-ltn")
    sockets = compose(docker_lab, docker_env, "exec", "-T", "orders", "ss", "-tn")

    assert json.loads(health)["status"] == "ok"
    assert "0.0.0.0:8001" in listening
    # orders holds connections to PostgreSQL (5432) once it has served its seed data.
    assert "State" in sockets


def test_prometheus_scrapes_every_service_container(docker_lab: Path) -> None:
    if "prometheus" not in DOCKER_SERVICES:
        pytest.skip("Prometheus is not among DRILL_TEST_DOCKER_SERVICES")
    deadline = time.monotonic() + 60
    health: dict[str, str] = {}
    while time.monotonic() < deadline:
        targets = httpx.get("http://127.0.0.1:9090/api/v1/targets", timeout=5).json()
        health = {
            t["labels"].get("service", t["labels"]["job"]): t["health"]
            for t in targets["data"]["activeTargets"]
        }
        if all(health.get(name) == "up" for name in SERVICES):
            break
        time.sleep(2)

    assert {name: health.get(name) for name in SERVICES} == dict.fromkeys(SERVICES, "up")


def test_a_drill_serves_the_other_drills_services_their_reference_fixes(
    docker_lab: Path, docker_env: dict[str, str]
) -> None:
    """Only the paged fault is live: `drill start` recreates the other drills' containers on the
    fixed copy. The verify test below then grades them on the tree again (verify serves the
    tree's code), so it runs after this one."""
    started = drill(docker_lab, "start", "ledger-mismatch", "--users", "1", env=docker_env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        for other in ("circular-deadlock", "n-plus-one"):
            for rel in fixes.fix_files(docker_lab, other):
                fixed = (docker_lab / "solutions" / other / rel).read_text()
                for name in SERVED_BY[rel.split("/")[1]]:
                    shown = compose(
                        docker_lab, docker_env, "exec", "-T", name, "cat", f"/app/{rel}"
                    )
                    assert shown == fixed, (name, rel)
        for rel in fixes.fix_files(docker_lab, "float-drift"):
            shown = compose(docker_lab, docker_env, "exec", "-T", "billing", "cat", f"/app/{rel}")
            assert shown == (docker_lab / rel).read_text(), rel
    finally:
        drill(docker_lab, "end", env=docker_env)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_verify_fails_on_the_poisoned_containers_and_passes_after_solve(
    docker_lab: Path, docker_env: dict[str, str], scenario: str
) -> None:
    poisoned, _ = verify_json(docker_lab, scenario, env=docker_env, checks=[CAUGHT_BY[scenario]])
    solved = drill(docker_lab, "solve", scenario, env=docker_env)
    try:
        assert solved.returncode == 0, solved.stdout + solved.stderr
        # The fix reaches the containers through the bind mount and recreated containers.
        assert "docker compose up --force-recreate" in solved.stdout, solved.stdout
        fixed, checks = verify_json(docker_lab, scenario, env=docker_env)
    finally:
        reset = drill(docker_lab, "reset", scenario, env=docker_env)
        assert reset.returncode == 0, reset.stdout + reset.stderr

    assert poisoned == 1
    assert fixed == 0, failed(checks)


def test_down_removes_every_container_and_frees_the_ports(
    docker_lab: Path, docker_env: dict[str, str]
) -> None:
    result = drill(docker_lab, "down", env=docker_env)
    left = compose(docker_lab, docker_env, "ps", "--all", "--quiet")

    assert result.returncode == 0, result.stdout + result.stderr
    assert left.strip() == ""
    assert not (docker_lab / ".drill" / "lab.json").exists()
    assert [port for port in LAB_PORTS if _port_in_use(port)] == []
