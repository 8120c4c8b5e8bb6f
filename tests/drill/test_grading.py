"""Scorecards: a race check that passed on a database where writes cannot race is not proven, and
a scorecard with such a check does not pass; on PostgreSQL the same check counts."""

import asyncio
import os
from pathlib import Path

import pytest
from rich.console import Console

from drill import database
from drill.database import POSTGRESQL, SQLITE, LabDatabase
from drill.grading import (
    ONLY,
    VEILED,
    CheckResult,
    Measured,
    Scorecard,
    UnknownCheck,
    print_check,
    run_checks,
)

RACE = "concurrent writers never collide"
PLAIN = "exact money"


async def passes() -> Measured:
    return Measured(True, "measured", "expected")


def card_on(db: LabDatabase | None) -> Scorecard:
    checks = [(PLAIN, passes), (RACE, passes)]
    return asyncio.run(run_checks("drill", checks, database=db, race_checks={RACE}))


def test_a_race_check_on_sqlite_is_not_proven_and_the_card_does_not_pass() -> None:
    card = card_on(LabDatabase(SQLITE))

    assert [c.name for c in card.unproven] == [RACE]
    assert not card.passed
    assert card.as_json()["database"] == SQLITE
    assert "not proven" in card.checks[1].detail


def test_the_same_check_on_postgresql_counts() -> None:
    card = card_on(LabDatabase(POSTGRESQL, "postgresql+psycopg://x/y"))

    assert card.unproven == []
    assert card.passed


def test_an_unknown_database_proves_no_race() -> None:
    card = card_on(None)

    assert card.database == "unknown"
    assert not card.passed


def test_drill_database_sqlite_is_honoured_and_a_bad_value_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DRILL_DATABASE", "sqlite")
    assert database.choose() == LabDatabase(SQLITE, None, "DRILL_DATABASE=sqlite")

    monkeypatch.setenv("DRILL_DATABASE", "oracle")
    with pytest.raises(database.DatabaseUnavailable, match="auto, sqlite or postgres"):
        database.choose()


def test_an_unreachable_postgresql_falls_back_to_sqlite_or_fails_when_demanded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A port nothing listens on: a real refused connection, not a mock.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DRILL_POSTGRES_URL", "postgresql+psycopg://drill:drill@127.0.0.1:1/none")
    monkeypatch.setenv("DRILL_DATABASE", "auto")
    fallback = database.choose()
    assert fallback.kind == SQLITE
    assert "cannot be proven" in fallback.note

    monkeypatch.setenv("DRILL_DATABASE", "postgres")
    with pytest.raises(database.DatabaseUnavailable, match="does not answer"):
        database.choose()


@pytest.mark.skipif(
    not os.environ.get("DRILL_TEST_POSTGRES_URL"), reason="needs DRILL_TEST_POSTGRES_URL"
)
def test_a_reachable_postgresql_gives_the_lab_a_schema_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DRILL_POSTGRES_URL", os.environ["DRILL_TEST_POSTGRES_URL"])
    monkeypatch.setenv("DRILL_PORT_OFFSET", "4321")
    chosen = database.choose()

    assert chosen.kind == POSTGRESQL
    assert chosen.url is not None and "search_path%3Dlab_4321" in chosen.url
    assert "synchronous_commit%3Doff" in chosen.url


def test_only_the_named_checks_run_and_an_unknown_name_is_refused_with_the_names() -> None:
    token = ONLY.set(frozenset({PLAIN}))
    try:
        card = card_on(LabDatabase(SQLITE))
        assert [c.name for c in card.checks] == [PLAIN]
        assert card.passed

        ONLY.set(frozenset({"no such check"}))
        with pytest.raises(UnknownCheck, match="exact money"):
            card_on(None)
    finally:
        ONLY.reset(token)


def test_before_a_right_diagnosis_only_the_symptom_checks_keep_their_names_and_measures() -> None:
    cause = CheckResult("money never leaves decimal", False, "3 uses", "0", "ledger.py:12")
    symptom = CheckResult("P99 under the SLO", False, "P99 900 ms", "< 200 ms", "4 runs")
    card = Scorecard("drill", [cause, symptom]).veiled({symptom.name})

    hidden, kept = card.checks
    assert kept == symptom
    assert (hidden.name, hidden.passed, hidden.measured) == ("a check", False, VEILED)
    assert hidden.expected == hidden.detail == ""
    assert not card.passed and card.as_json()["checks"][0]["measured"] == VEILED
    console = Console(record=True, width=200)
    for check in card.checks:
        print_check(console, check)
    printed = console.export_text()
    assert "decimal" not in printed and "ledger.py" not in printed and "3 uses" not in printed
    assert "P99 900 ms" in printed and "expected < 200 ms" in printed
    assert "expected \n" not in printed + "\n"
