"""Billing on PostgreSQL: the reference fix's exact money (NUMERIC) and its idempotency (unique
constraint, ON CONFLICT) hold on a real server, and the grader still catches the poisoned code.

Needs a server: DRILL_TEST_POSTGRES_URL names a database these tests may wipe (.ci/run starts
one and sets it)."""

import os
from pathlib import Path

import pytest

from tests.conftest import drill, verify_json

pytestmark = pytest.mark.slow

POSTGRES_URL = os.environ.get("DRILL_TEST_POSTGRES_URL")


@pytest.fixture
def postgres_env() -> dict[str, str]:
    if not POSTGRES_URL:
        pytest.skip("DRILL_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    return {"DATABASE_URL": POSTGRES_URL}


def run_grader(tree: Path, env: dict[str, str]) -> tuple[int, dict[str, bool]]:
    started = drill(tree, "up", "--mode", "local", env=env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        return verify_json(tree, "float-drift", env=env)
    finally:
        drill(tree, "down", env=env)


def test_reference_fix_passes_on_postgresql(tree: Path, postgres_env: dict[str, str]) -> None:
    assert drill(tree, "solve", "float-drift").returncode == 0

    code, checks = run_grader(tree, postgres_env)

    assert {name for name, passed in checks.items() if not passed} == set()
    assert code == 0


def test_poisoned_code_double_bills_on_postgresql(tree: Path, postgres_env: dict[str, str]) -> None:
    code, checks = run_grader(tree, postgres_env)

    assert code == 1
    assert not checks["concurrent duplicates bill once"]
    assert not checks["0.10 charged 1000 times is exactly 100.00"]
