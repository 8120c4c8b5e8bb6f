"""The Prometheus configuration and alert rules in infra/prometheus: valid for promtool, every
alert of docs/contracts.md defined, unit-tested both ways, and linked to a runbook that exists.

promtool comes with Debian's `prometheus` package (.ci/run installs it); without it the promtool
checks skip and say so, and the checks that only read the files still run.
"""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import contracts

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "infra" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.test.yml"))

# The alert names of docs/contracts.md ("Alerts"): graders, dashboards and runbooks use them.
CONTRACT_ALERTS = frozenset(contracts.alerts())


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{path} is not a YAML mapping"
    return loaded


def _alerts() -> dict[str, dict[str, Any]]:
    """Every alerting rule of every rule file, by name."""
    alerts: dict[str, dict[str, Any]] = {}
    for path in RULE_FILES:
        for group in _load(path)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    assert rule["alert"] not in alerts, f"{rule['alert']} is defined twice"
                    alerts[rule["alert"]] = rule
    return alerts


ALERTS = _alerts()


def _slug(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(markdown: Path) -> set[str]:
    """The anchors of a Markdown file's headings (outside fenced code blocks)."""
    anchors: set[str] = set()
    fenced = False
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+)", line)):
            anchors.add(_slug(match.group(1)))
    return anchors


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(
            "promtool is not installed: `apt-get install prometheus` (Debian 12) provides it; "
            ".ci/run installs it in CI"
        )
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=PROMETHEUS, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_local_lab_configuration_is_valid(promtool: str) -> None:
    result = _run(promtool, "check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    # The configuration loads the rule files (rule_files: rules/*.yml).
    assert f"{len(RULE_FILES)} rule files found" in result.stdout


def test_the_rule_files_are_valid(promtool: str) -> None:
    result = _run(promtool, "check", "rules", *(str(p.relative_to(PROMETHEUS)) for p in RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_promtool_unit_tests_pass(promtool: str) -> None:
    result = _run(promtool, "test", "rules", *(str(p.relative_to(PROMETHEUS)) for p in TEST_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_of_the_contracts_is_defined() -> None:
    missing = CONTRACT_ALERTS - ALERTS.keys()
    assert not missing, f"not in infra/prometheus/rules: {sorted(missing)}"


def test_every_rule_file_has_a_promtool_test_file() -> None:
    tested = {
        (path.parent / rule_file).resolve()
        for path in TEST_FILES
        for rule_file in _load(path)["rule_files"]
    }
    assert {path.resolve() for path in RULE_FILES} <= tested


def test_every_alert_has_a_case_that_must_not_fire_and_one_that_must() -> None:
    negative: set[str] = set()
    positive: set[str] = set()
    for path in TEST_FILES:
        for case in _load(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (positive if check.get("exp_alerts") else negative).add(check["alertname"])
    assert ALERTS.keys() <= negative, f"no negative case: {sorted(ALERTS.keys() - negative)}"
    assert ALERTS.keys() <= positive, f"no positive case: {sorted(ALERTS.keys() - positive)}"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_the_alert_says_what_and_how_bad(name: str) -> None:
    rule = ALERTS[name]
    assert rule.get("for"), f"{name} has no `for:`"
    assert rule.get("labels", {}).get("severity") in {"critical", "warning"}
    for key in ("summary", "description", "runbook_url"):
        assert rule.get("annotations", {}).get(key), f"{name} has no {key}"
    # The description is templated: it names what fired, not only the alert.
    assert "{{" in rule["annotations"]["description"]


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_the_runbook_url_names_an_existing_runbook_and_heading(name: str) -> None:
    url = ALERTS[name]["annotations"]["runbook_url"]
    path, _, anchor = url.partition("#")
    assert path.startswith("runbooks/"), f"{name}: {url} is not in runbooks/"
    runbook = REPO / path
    assert runbook.is_file(), f"{name}: {runbook} does not exist"
    assert anchor, f"{name}: {url} names no section"
    assert anchor in _anchors(runbook), f"{name}: {runbook.name} has no heading #{anchor}"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_the_runbook_url_is_trainee_safe_never_an_answer_key(name: str) -> None:
    # Trainees follow these links during a drill: each leads to its alert's own section of the
    # symptom-level page, never into runbooks/instructor/ (the answer keys).
    url = ALERTS[name]["annotations"]["runbook_url"]
    assert "instructor" not in url, f"{name}: {url} leads to an answer key"
    assert url == f"runbooks/alerts.md#{name.lower()}", f"{name}: {url}"
