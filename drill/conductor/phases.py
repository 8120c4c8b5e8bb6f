"""The drill's four timed phases, and what is expected of the team in each."""

from dataclasses import dataclass
from datetime import timedelta

DRILL_MINUTES = 60


@dataclass(frozen=True)
class Phase:
    """One phase of the 60-minute drill, [start, end) in minutes since the page."""

    key: str
    title: str
    start_min: int
    end_min: int
    expected: str

    def remaining(self, elapsed: timedelta) -> timedelta:
        """Time left in this phase."""
        return timedelta(minutes=self.end_min) - elapsed


PHASES = (
    Phase(
        "alerting",
        "Alerting",
        0,
        5,
        "Acknowledge the page. Name an incident lead and a scribe, read the alerts, state the "
        "symptom and who is hurt. No code, no theories yet.",
    ),
    Phase(
        "dark-room",
        "Dark-room investigation",
        5,
        30,
        "Investigate with what production gives you: dashboards, metrics, traces, JSON logs, "
        "curl, ss, py-spy. No reading of the answer key, no instructor answers. `drill hint` "
        "if stuck (each use is recorded); `drill diagnose` as soon as you can name the service "
        "and the mechanism (target: under 20 minutes).",
    ),
    Phase(
        "fix",
        "Supervised fix",
        30,
        45,
        "Fix the code under services/, restart the lab to serve it, and `drill verify "
        "SCENARIO` until it passes. The instructor reviews the change with you.",
    ),
    Phase(
        "postmortem",
        "Post-mortem and spec update",
        45,
        60,
        "`drill end`, then `drill postmortem`: review the timeline, agree the root cause, add "
        "the guardrails to the spec template and the PR checklist (runbooks/).",
    ),
)

OVERTIME = Phase(
    "overtime",
    "Overtime",
    DRILL_MINUTES,
    DRILL_MINUTES,
    "The 60 minutes are up: stop, `drill end`, and write the post-mortem with what you have.",
)


def phase_at(elapsed: timedelta) -> Phase:
    """The phase the drill is in after `elapsed` (before the page counts as alerting)."""
    mins = elapsed.total_seconds() / 60
    for phase in PHASES:
        if mins < phase.end_min:
            return phase
    return OVERTIME
