"""docs/contracts.md against the code: the ports, APIs, alerts, drills and commands it lists are
the ones the lab has, no more and no fewer."""

import importlib
import re
from pathlib import Path
from typing import Any

import typer
import yaml
from typer.main import get_command_name

from drill.cli import app
from drill.console import EXIT_FAIL, EXIT_USAGE
from drill.review.cli import review_app
from drill.scenarios import registry
from drill.services import ALERTMANAGER_PORT, PROMETHEUS_PORT, SERVICES
from tests.contracts import CONTRACTS, alerts, ports, table

REPO = Path(__file__).resolve().parent.parent


def test_the_ports_are_the_lab_s_and_the_compose_file_s() -> None:
    listed = ports()
    for name, spec in SERVICES.items():
        assert listed[name] == {spec.base_port}, name
    assert listed["prometheus"] == {PROMETHEUS_PORT}
    assert listed["alertmanager"] == {ALERTMANAGER_PORT}
    compose: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    published = {
        name: {int(str(port).rsplit(":", 2)[1]) for port in service.get("ports", [])}
        for name, service in compose["services"].items()
        if service.get("ports")
    }
    assert published == listed


def _routes(app_path: str) -> set[tuple[str, str]]:
    module, attribute = app_path.split(":")
    service_app = getattr(importlib.import_module(module), attribute)
    paths: dict[str, dict[str, Any]] = service_app.openapi()["paths"]
    return {(method.upper(), path) for path, operations in paths.items() for method in operations}


def test_the_apis_are_each_service_s_routes() -> None:
    listed: dict[str, set[tuple[str, str]]] = {name: set() for name in SERVICES}
    for row in table("Service APIs"):
        listed[row["service"]].add((row["method"], row["path"]))
    for name, spec in SERVICES.items():
        assert _routes(spec.app) - {("GET", "/healthz"), ("GET", "/readyz")} == listed[name], name


def test_the_alerts_are_the_rules() -> None:
    rules: dict[str, tuple[str, str]] = {}
    for path in sorted((REPO / "infra" / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rules[rule["alert"]] = (path.name, rule["labels"]["severity"])
    listed = {name: (row["rule file"], row["severity"]) for name, row in alerts().items()}
    assert listed == rules


def test_the_drills_are_the_graders() -> None:
    listed = {row["id"]: row for row in table("The drills")}
    assert listed.keys() == registry().keys()
    for scenario_id, scenario in registry().items():
        services = {s.strip() for s in listed[scenario_id]["services it poisons"].split(",")}
        assert services == set(scenario.services), scenario_id
        alert_names = set(re.findall(r"`(\w+)`", listed[scenario_id]["alerts it should fire"]))
        assert alert_names <= alerts().keys(), scenario_id


def _commands(typer_app: typer.Typer) -> set[str]:
    names = {
        info.name or get_command_name(info.callback.__name__)
        for info in typer_app.registered_commands
        if info.callback is not None
    }
    return names | {group.name for group in typer_app.registered_groups if group.name}


def test_the_commands_and_exit_codes_are_the_drill_command_s() -> None:
    text = CONTRACTS.read_text(encoding="utf-8")
    section = text.split("## The `drill` command", 1)[1]
    top, review = re.search(r"top-level commands: (.*?) \(with (.*?)\)", section, re.S).groups()  # type: ignore[union-attr]
    assert set(re.findall(r"`(\w+)`", top)) | {"review"} == _commands(app)
    assert set(re.findall(r"`(\w+)`", review)) == _commands(review_app)
    codes = {row["code"] for row in table("The `drill` command")}
    assert codes == {"0", str(EXIT_FAIL), str(EXIT_USAGE)}
