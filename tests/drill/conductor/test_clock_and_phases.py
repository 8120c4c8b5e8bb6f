"""The conductor's clock (movable by DRILL_NOW / DRILL_CLOCK_OFFSET) and its phases."""

from datetime import UTC, datetime, timedelta

import pytest

from drill.conductor import clock
from drill.conductor.phases import phase_at


def test_drill_now_fixes_the_clock_and_the_offset_moves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_NOW", "2026-01-02T03:04:05")
    assert clock.now() == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    monkeypatch.setenv("DRILL_CLOCK_OFFSET", "-65")
    assert clock.now() == datetime(2026, 1, 2, 3, 3, 0, tzinfo=UTC)


def test_without_the_hooks_the_clock_is_real_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRILL_NOW", raising=False)
    monkeypatch.delenv("DRILL_CLOCK_OFFSET", raising=False)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("name", "value"), [("DRILL_NOW", "yesterday"), ("DRILL_CLOCK_OFFSET", "5m")]
)
def test_an_unreadable_clock_hook_is_an_error_that_names_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(clock.ClockError, match=name):
        clock.now()


@pytest.mark.parametrize(
    ("minute", "phase"),
    [
        (0, "alerting"),
        (4.99, "alerting"),
        (5, "dark-room"),
        (29.9, "dark-room"),
        (30, "fix"),
        (44.9, "fix"),
        (45, "postmortem"),
        (59.9, "postmortem"),
        (60, "overtime"),
        (300, "overtime"),
    ],
)
def test_the_phase_follows_the_drill_s_minutes(minute: float, phase: str) -> None:
    assert phase_at(timedelta(minutes=minute)).key == phase


def test_minutes_reads_like_a_wall_clock() -> None:
    assert clock.minutes(timedelta(seconds=65)) == "01:05"
    assert clock.minutes(timedelta(hours=1, seconds=3)) == "1:00:03"
    assert clock.minutes(timedelta(seconds=-3)) == "00:00"
