"""Shared fixtures: temporary copies of the lab tree, and real labs running from them.

Tests never touch the working tree: every test that solves, resets or starts the lab does so in
a copy, with the `drill` command run as a real subprocess, as an instructor would run it.
"""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from drill import lab as lab_processes
from drill.services import SERVICES

REPO = Path(__file__).resolve().parent.parent
# What a lab tree needs: the code it serves, the reference fixes `drill solve` applies, and the
# configuration of the Prometheus and Alertmanager that `drill up` starts beside it.
TREE_PARTS = ("services", "solutions", "infra")


def copy_tree(destination: Path) -> Path:
    """A copy of the lab tree the `drill` command can serve, solve and reset."""
    destination.mkdir(parents=True, exist_ok=True)
    for part in TREE_PARTS:
        shutil.copytree(
            REPO / part, destination / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    return destination


def drill(
    tree: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `drill ARGS` in the tree, as a separate process; never raises on a non-zero exit."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "drill", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def submit_review(
    tree: Path, pr_id: str, team: str, *findings: str
) -> subprocess.CompletedProcess[str]:
    """Run `drill review submit PR_ID --team TEAM --finding F ...` in the tree."""
    flags = [arg for finding in findings for arg in ("--finding", finding)]
    return drill(tree, "review", "submit", pr_id, "--team", team, *flags)


def verify_json(
    tree: Path, scenario: str, env: dict[str, str] | None = None, checks: Iterable[str] = ()
) -> tuple[int, dict[str, bool]]:
    """Run `drill verify SCENARIO --json [--check NAME ...]`: (exit code, {check: passed})."""
    only = [arg for name in checks for arg in ("--check", name)]
    result = drill(tree, "verify", scenario, "--json", *only, env=env)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    card = json.loads(result.stdout)
    return result.returncode, {check["name"]: check["passed"] for check in card["checks"]}


def failed(checks: dict[str, bool]) -> set[str]:
    """The names of the checks that failed."""
    return {name for name, passed in checks.items() if not passed}


def rewrite(path: Path, old: str, new: str) -> None:
    """Replace every `old` in the file (to make a wrong fix); fail loudly if it is not there."""
    text = path.read_text()
    assert old in text, f"{path} no longer contains {old!r}: update this wrong fix"
    path.write_text(text.replace(old, new))


def restart_lab(tree: Path) -> None:
    """Stop and start the tree's lab, so it serves the tree's current code."""
    assert drill(tree, "down").returncode == 0
    started = drill(tree, "up", "--mode", "local")
    assert started.returncode == 0, started.stdout + started.stderr


# Which lab processes serve each package of services/ (the kit is imported by all of them).
SERVED_BY = {
    "billing": ("billing",),
    "chain": ("service-a", "service-b", "service-c"),
    "orders": ("orders",),
    "catalog": ("catalog",),
}


def restart_services(tree: Path, *names: str) -> None:
    """Restart only these services of the tree's running lab, so they serve its current code
    (seconds, where a whole `drill down` and `drill up` takes most of a minute)."""
    # In a process of its own, as `drill solve` restarts services: the restarted services are
    # its children, not the test process's (which would warn that it never waited for them).
    # A service whose start failed (a wrong fix that does not boot) is started, not restarted.
    script = (
        "import sys; from pathlib import Path; from drill import lab\n"
        "root, names = Path(sys.argv[1]), sys.argv[2:]\n"
        "running = lab.read_state(root)\n"
        "lab.restart(root, [n for n in names if n in running], progress=lambda _line: None)\n"
        "missing = [n for n in names if n not in running]\n"
        "if missing:\n"
        "    lab.start(root, missing, progress=lambda _line: None)\n"
    )
    restarted = subprocess.run(
        [sys.executable, "-c", script, str(tree), *names],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr


def _differs(tree: Path) -> set[str]:
    """The packages of services/ whose files differ from the committed code (or were added)."""
    ours, theirs = tree / "services", REPO / "services"
    names = {
        p.relative_to(root).as_posix()
        for root in (ours, theirs)
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    changed = set()
    for name in names:
        mine, committed = ours / name, theirs / name
        both = mine.is_file() and committed.is_file()
        if not both or mine.read_bytes() != committed.read_bytes():
            changed.add(name.split("/")[0])
    return changed


def restore_code(tree: Path) -> None:
    """Put the committed code back in the tree (forgetting any solve) and restart just the
    services whose code had changed."""
    changed = _differs(tree)
    shutil.rmtree(tree / ".drill" / "backup", ignore_errors=True)
    for package in changed:
        shutil.rmtree(tree / "services" / package, ignore_errors=True)
        if (REPO / "services" / package).is_dir():
            shutil.copytree(
                REPO / "services" / package,
                tree / "services" / package,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
    # Every service of ours must be up again, even one that a broken edit kept from starting,
    # and serving the tree (a drill's start puts the other drills' services on a fixed copy).
    running = lab_processes.read_state(tree)
    names = {n for package in changed for n in SERVED_BY.get(package, tuple(SERVICES))}
    names |= {n for n in SERVICES if n not in running or running[n].code}
    if names:
        restart_services(tree, *(n for n in SERVICES if n in names))


@contextmanager
def running_drill(tree: Path, scenario: str) -> Iterator[None]:
    """A drill of the scenario running in the tree's lab (`drill start`: its code reset, its own
    Locust load started), ended afterwards whatever happens (`drill end` stops the load)."""
    started = drill(tree, "start", scenario, "--team", "grader-tests")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield
    finally:
        drill(tree, "end")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Soak tests (ten full verifies each under load) run only when asked for: `make test-soak`
    sets DRILL_TEST_SOAK=1. They would double `make test`'s time."""
    if os.environ.get("DRILL_TEST_SOAK") == "1":
        return
    skip = pytest.mark.skip(reason="a soak test: run it with `make test-soak` (DRILL_TEST_SOAK=1)")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def drill_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test keeps its drill log in its own folder, never in the user's data directory."""
    path = tmp_path / "drill-data"
    monkeypatch.setenv("DRILL_DATA_DIR", str(path))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A fresh copy of the lab tree for this test."""
    return copy_tree(tmp_path / "lab")


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One local lab for the whole test module, from its own tree copy; stopped at the end."""
    tree = copy_tree(tmp_path_factory.mktemp("module-lab"))
    started = drill(tree, "up", "--mode", "local")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield tree
    finally:
        drill(tree, "down")


@pytest.fixture
def shared_lab(module_lab: Path) -> Iterator[Path]:
    """The module's lab serving the committed (poisoned) code; whatever a test edits or solves is
    put back after it, restarting only the services it touched. A test that needs a lab of its
    own (one that stops the lab, or starts it another way) takes `lab` instead."""
    restore_code(module_lab)
    yield module_lab
    restore_code(module_lab)


@pytest.fixture
def lab(tree: Path) -> Iterator[Path]:
    """The local lab running from a fresh tree copy; stopped after the test, whatever happens."""
    started = drill(tree, "up", "--mode", "local")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield tree
    finally:
        drill(tree, "down")
