"""The Docker lab's files, checked without a Docker engine: docker-compose.yml against
docs/contracts.md (ports on 127.0.0.1), against the lab's own rules (memory limits, healthchecks,
pinned images) and against drill/services.py
(every service, its port, its database and callees), the Dockerfile, the Docker scrape
configuration (promtool) and Alertmanager's (amtool).

These tests read the files and need no engine; tests/infra/test_docker_live.py starts the lab on
a real one.
promtool and amtool come with Debian's `prometheus` and `prometheus-alertmanager` packages
(.ci/run installs both); without them their checks skip and say so.
"""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from drill.lab import docker
from drill.services import SERVICES
from tests import contracts

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_FILE = REPO / ".env"
DOCKERFILE = REPO / "infra" / "docker" / "Dockerfile"
PROMETHEUS = REPO / "infra" / "prometheus"
ALERTMANAGER_CONFIG = REPO / "infra" / "alertmanager" / "alertmanager.yml"

# The host ports of docs/contracts.md ("Ports"), by compose service.
CONTRACT_PORTS: dict[str, set[int]] = contracts.ports()
THIRD_PARTY = ("postgres", "jaeger", "prometheus", "alertmanager", "grafana")
# ${NAME} or ${NAME:-default}, but not $${NAME} (escaped for the container's shell).
INTERPOLATION = re.compile(r"(?<!\$)\$\{(\w+)(?::?[-?][^}]*)?\}")


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), "docker-compose.yml is not a YAML mapping"
    return loaded


COMPOSE = _compose()
COMPOSE_SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def _dotenv() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


DOTENV = _dotenv()


def _published(service: dict[str, Any]) -> list[str]:
    ports = service.get("ports", [])
    assert all(isinstance(port, str) for port in ports), "ports must be strings (short syntax)"
    return list(ports)


def _environment(name: str) -> dict[str, str]:
    environment = COMPOSE_SERVICES[name].get("environment", {})
    assert isinstance(environment, dict), f"{name}: environment must be a mapping"
    return {key: str(value) for key, value in environment.items()}


def test_every_service_of_the_lab_is_in_compose() -> None:
    expected = {*SERVICES, *THIRD_PARTY, "locust"}
    assert expected <= COMPOSE_SERVICES.keys(), sorted(expected - COMPOSE_SERVICES.keys())


@pytest.mark.parametrize("name", sorted(CONTRACT_PORTS))
def test_published_ports_bind_loopback_at_the_contract_s_ports(name: str) -> None:
    host_ports: set[int] = set()
    for port in _published(COMPOSE_SERVICES[name]):
        address, host_port, container_port = port.split(":")
        assert address == "127.0.0.1", f"{name}: {port} is not bound to 127.0.0.1"
        assert container_port.isdigit(), f"{name}: {port}"
        host_ports.add(int(host_port))
    assert host_ports == CONTRACT_PORTS[name]


def test_no_other_container_publishes_a_port() -> None:
    for name, service in COMPOSE_SERVICES.items():
        if name not in CONTRACT_PORTS:
            assert not service.get("ports"), f"{name} publishes {service['ports']}"


@pytest.mark.parametrize("name", sorted(COMPOSE_SERVICES))
def test_every_container_has_a_memory_limit(name: str) -> None:
    limit = COMPOSE_SERVICES[name].get("deploy", {}).get("resources", {}).get("limits", {})
    assert re.fullmatch(r"\d+[MG]", str(limit.get("memory", ""))), f"{name}: no memory limit"


@pytest.mark.parametrize("name", sorted({*SERVICES, "postgres", "prometheus"}))
def test_ours_postgres_and_prometheus_have_a_healthcheck(name: str) -> None:
    test = COMPOSE_SERVICES[name].get("healthcheck", {}).get("test")
    assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"}, f"{name}: no healthcheck"


def test_dependencies_wait_for_health_where_there_is_a_healthcheck() -> None:
    for name, service in COMPOSE_SERVICES.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on without conditions"
        for dependency, condition in depends_on.items():
            assert dependency in COMPOSE_SERVICES, f"{name} depends on unknown {dependency}"
            expected = (
                "service_healthy"
                if "healthcheck" in COMPOSE_SERVICES[dependency]
                else "service_started"
            )
            if dependency == "jaeger":  # nothing should wait for traces to be stored
                expected = "service_started"
            assert condition == {"condition": expected}, f"{name} -> {dependency}: {condition}"


@pytest.mark.parametrize("name", THIRD_PARTY)
def test_third_party_images_are_pinned_in_dotenv(name: str) -> None:
    image = COMPOSE_SERVICES[name]["image"]
    match = re.fullmatch(r"\$\{(\w+)\}", image)
    assert match, f"{name}: image {image!r} is not a .env variable"
    pinned = DOTENV.get(match.group(1), "")
    repository, _, tag = pinned.rpartition(":")
    assert repository and tag, f"{name}: {match.group(1)}={pinned!r} has no tag"
    assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {pinned} is not a version"


def test_every_variable_compose_interpolates_is_defined_in_dotenv() -> None:
    used = set(INTERPOLATION.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
    assert used, "the pattern found no ${...} at all"
    assert used <= DOTENV.keys(), f"not in .env: {sorted(used - DOTENV.keys())}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_runs_its_app_on_its_port_from_our_one_image(name: str) -> None:
    spec = SERVICES[name]
    service = COMPOSE_SERVICES[name]
    environment = _environment(name)
    assert service["image"] == "${DRILL_IMAGE}"
    assert service["build"]["dockerfile"] == str(DOCKERFILE.relative_to(REPO))
    assert environment["SERVICE_APP"] == spec.app
    assert environment["PORT"] == str(spec.base_port)
    assert f"127.0.0.1:{spec.base_port}:{spec.base_port}" in service["ports"]
    assert environment["SERVICE_NAME"] == environment["OTEL_SERVICE_NAME"] == name
    # A fresh token per start `drill up` and `drill reset` make (reloads keep it, and the data).
    assert environment["DB_RESET_TOKEN"] == "${DRILL_RESET_TOKEN}"
    assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    # The trainee's code is mounted over the image's copy (uvicorn --reload serves edits), or,
    # while another drill runs, the copy with this service's reference fix that drill names;
    # nothing else: no lab tooling (drill/: graders, content, answer keys).
    variable = docker.code_variable(name)
    assert service["volumes"] == [f"${{{variable}}}:/app/services:ro"]
    assert DOTENV[variable] == "./services"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_finds_its_callees_and_database_by_compose_hostname(name: str) -> None:
    spec = SERVICES[name]
    environment = _environment(name)
    for callee in spec.calls:
        url = f"http://{callee}:{SERVICES[callee].base_port}"
        assert environment.get(SERVICES[callee].url_variable) == url
    if spec.uses_database:
        url = environment["DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
        # A database of its own: a reset drops every table of the one it is given.
        path, _, query = url.partition("?")
        assert path.endswith(f"/{name}")
        # Commits that do not wait for the disk, as in the local lab (docs/grading/README.md).
        assert query == "options=-csynchronous_commit%3Doff"
        init = (REPO / "infra" / "postgres" / "initdb" / "10-databases.sh").read_text()
        assert re.search(rf"^for database in .*\b{name}\b", init, re.MULTILINE)
    else:
        assert "DATABASE_URL" not in environment


def test_the_chain_does_not_depend_on_itself() -> None:
    """The chain's calls form a cycle; compose refuses a depends_on cycle."""
    for name in ("service-a", "service-b", "service-c"):
        assert not set(COMPOSE_SERVICES[name].get("depends_on", {})) & set(SERVICES)


def test_the_dockerfile_is_parameterised_and_runs_as_a_non_root_user() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^ARG BASE_IMAGE=python:3\.13-slim$", text, re.MULTILINE)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    for tool in ("curl", "iproute2", "net-tools", "procps", "py-spy"):
        assert tool in text, f"the image lacks {tool}"
    assert "--reload" in text
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    # The answer keys never go into a container a trainee can exec into.
    assert {"runbooks", "solutions", ".venv", ".git"} <= set(ignored)


def _targets(config: dict[str, Any]) -> dict[str, str]:
    """service label -> target, over every static target of the drill-lab job."""
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "drill-lab"]
    return {
        group["labels"]["service"]: target
        for group in job["static_configs"]
        for target in group["targets"]
    }


def test_the_docker_scrape_config_matches_the_local_one_and_compose() -> None:
    local = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    docker = yaml.safe_load((PROMETHEUS / "prometheus.docker.yml").read_text(encoding="utf-8"))
    assert docker["rule_files"] == local["rule_files"]
    assert _targets(docker).keys() == _targets(local).keys() == SERVICES.keys()
    for name, target in _targets(docker).items():
        assert target == f"{name}:{SERVICES[name].base_port}"
    mounts = COMPOSE_SERVICES["prometheus"]["volumes"]
    assert "./infra/prometheus:/etc/prometheus:ro" in mounts
    assert (
        "--config.file=/etc/prometheus/prometheus.docker.yml"
        in (COMPOSE_SERVICES["prometheus"]["command"])
    )


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(
            f"{name} is not installed: `apt-get install {package}` (Debian 12) provides it; "
            ".ci/run installs it in CI"
        )
    return path


def test_promtool_accepts_the_docker_scrape_config() -> None:
    promtool = _tool("promtool", "prometheus")
    result = subprocess.run(
        [promtool, "check", "config", "prometheus.docker.yml"],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rule_files = len(list((PROMETHEUS / "rules").glob("*.yml")))
    assert f"{rule_files} rule files found" in result.stdout


def test_amtool_accepts_the_alertmanager_config() -> None:
    amtool = _tool("amtool", "prometheus-alertmanager")
    result = subprocess.run(
        [amtool, "check-config", str(ALERTMANAGER_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_sends_nowhere_outside_the_lab() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        assert set(receiver) == {"name"}, f"{receiver['name']} has integrations"
    assert (
        "./infra/alertmanager:/etc/alertmanager:ro" in COMPOSE_SERVICES["alertmanager"]["volumes"]
    )
