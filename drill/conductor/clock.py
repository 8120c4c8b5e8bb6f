"""The conductor's clock: real UTC time, which tests and instructors may move.

Phases last minutes; no test should sleep through them. Two environment variables move the clock
the CLI reads (a documented test and instructor hook, e.g. to rehearse the post-mortem phase):

- `DRILL_NOW`: a fixed ISO 8601 instant (UTC when it names no zone).
- `DRILL_CLOCK_OFFSET`: seconds added to the real time (may be negative).

Every journal entry is stamped with this clock, so the timeline stays consistent with what
`drill status` showed.
"""

import os
from datetime import UTC, datetime, timedelta


class ClockError(ValueError):
    """DRILL_NOW or DRILL_CLOCK_OFFSET cannot be read."""


def now() -> datetime:
    """The current instant (timezone-aware, UTC) as the drill sees it."""
    fixed = os.environ.get("DRILL_NOW", "").strip()
    if fixed:
        try:
            base = datetime.fromisoformat(fixed)
        except ValueError:
            raise ClockError(f"DRILL_NOW must be an ISO 8601 instant, not {fixed!r}") from None
        base = base.replace(tzinfo=UTC) if base.tzinfo is None else base.astimezone(UTC)
    else:
        base = datetime.now(UTC)
    raw = os.environ.get("DRILL_CLOCK_OFFSET", "").strip()
    if not raw:
        return base
    try:
        return base + timedelta(seconds=float(raw))
    except (ValueError, OverflowError):
        raise ClockError(f"DRILL_CLOCK_OFFSET must be a number of seconds, not {raw!r}") from None


def minutes(delta: timedelta) -> str:
    """A duration as `MM:SS` (or `H:MM:SS` past an hour), as a wall clock in the drill room."""
    total = max(0, int(delta.total_seconds()))
    hours, rest = divmod(total, 3600)
    mins, secs = divmod(rest, 60)
    return f"{hours}:{mins:02d}:{secs:02d}" if hours else f"{mins:02d}:{secs:02d}"
