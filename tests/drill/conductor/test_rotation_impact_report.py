"""Rotation, impact measurement and the per-team report, on made-up journal data."""

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drill.conductor import impact, postmortem, report, rotation
from drill.conductor.alerts import parse_time
from drill.conductor.content import load
from drill.conductor.journal import Drill, Event
from tests.conftest import REPO

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SCENARIOS = ["float-drift", "circular-deadlock", "n-plus-one"]


def made_up(scenario: str, events: list[Event], drill_id: int = 1) -> Drill:
    return Drill(
        drill_id, "red", scenario, REPO, T0, T0 + timedelta(minutes=55), None, Path("/x"), events
    )


def at(minutes: float, kind: str, **data: object) -> Event:
    return Event(T0 + timedelta(minutes=minutes), kind, dict(data))


def test_random_start_picks_a_scenario_the_team_has_not_done() -> None:
    done = [made_up("float-drift", []), made_up("n-plus-one", [])]
    for seed in range(20):
        picked, why = rotation.pick(SCENARIOS, done, random.Random(seed))
        assert picked == "circular-deadlock"
        assert "not drilled" in why


def test_once_every_scenario_is_done_the_least_drilled_comes_next() -> None:
    done = [made_up(s, []) for s in SCENARIOS] + [made_up("float-drift", [])]
    picked = {rotation.pick(SCENARIOS, done, random.Random(seed))[0] for seed in range(20)}
    assert picked == {"circular-deadlock", "n-plus-one"}


def test_p99_interpolates_within_the_bucket_as_prometheus_does() -> None:
    buckets = [(0.1, 50.0), (0.2, 90.0), (0.5, 100.0), (float("inf"), 100.0)]
    samples = [("lat_bucket", {"le": str(le), "route": "/r"}, count) for le, count in buckets] + [
        ("lat_bucket", {"le": "0.1", "route": "/other"}, 1000.0)
    ]

    # rank 99 of 100 falls in (0.2, 0.5], 9 of its 10 observations in: 0.2 + 0.3 * 0.9
    assert abs(impact.p99(samples, "lat", "/r") - 0.47) < 1e-9


def test_the_worst_sample_of_each_metric_is_kept() -> None:
    assert impact.worst([{"a": 1.0, "b": 5.0}, {"a": 3.0}, {"b": 2.0}]) == {"a": 3.0, "b": 5.0}


def full_drill() -> Drill:
    return made_up(
        "float-drift",
        [
            at(0, "started"),
            at(1, "alert", name="BillingLedgerDrift", severity="critical"),
            at(8, "hint", number=1),
            at(12, "diagnosis", answers={"service": "billing"}, correct=False),
            at(17, "diagnosis", answers={"service": "billing"}, correct=True),
            at(20, "impact", values={"double charges": 7.0, "ledger drift": 0.00012}),
            at(33, "verify", passed=False, scorecard={"checks": []}),
            at(41, "verify", passed=True, scorecard={"checks": []}, changes="ledger.py"),
            at(
                55,
                "ended",
                locust={"requests": 900, "failures": 40, "p50_ms": 80, "p99_ms": 950, "rps": 15},
            ),
        ],
    )


def test_a_drill_s_summary_measures_its_success_metrics() -> None:
    summary = report.summarize(full_drill())

    assert summary.time_to_isolate == timedelta(minutes=17) and summary.isolated_in_time
    assert summary.time_to_fix == timedelta(minutes=41) and summary.fixed_in_time
    assert summary.hints_used == 1 and summary.verify_attempts == 2 and summary.diagnoses == 2
    assert summary.worst_impact["double charges"] == 7.0


def test_the_postmortem_holds_timeline_cause_impact_fix_guardrails_and_metrics() -> None:
    summary = report.summarize(full_drill())
    text = postmortem.render(summary, "ledger.py changed")

    for heading in (
        "## Timeline",
        "## Root cause",
        "## Impact measured during the drill",
        "## What fixed it",
        "## Guardrails to add",
        "## Success metrics",
    ):
        assert heading in text
    assert "Alert **BillingLedgerDrift** firing" in text
    assert "- double charges: 7" in text
    assert "- ledger drift: 0.00012 cents" in text
    assert "40 failed" in text and "P99 950 ms" in text
    assert "| Root cause isolated in under 20 min | 17:00 | met |" in text
    assert "| Fix verified within the 60 minutes | at 41:00, after 2 attempt(s) | met |" in text
    assert load(REPO, "float-drift").pr_guardrails[0] in text


def test_alert_times_with_nanoseconds_and_zones_are_read() -> None:
    expected = datetime(2026, 11, 26, 8, 51, 13, 123456, tzinfo=UTC)
    assert parse_time("2026-11-26T08:51:13.123456789Z") == expected
    assert parse_time("2026-11-26T09:51:13.123456789+01:00") == expected
    assert parse_time("2026-11-26T08:51:13Z") == expected.replace(microsecond=0)
    assert parse_time("") is None and parse_time("garbage") is None
