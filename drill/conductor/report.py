"""Per-drill summaries and `drill report`: a team's drills side by side.

`team_summaries()` is the function to build on; `COLUMNS` is the table's layout, one
`ReportColumn` per column; `review_table()` adds the review drills' detection rate per team.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.console import JustifyMethod
from rich.table import Table

from drill.conductor import clock, diagnose, hints, impact
from drill.conductor.content import Content, ContentError, load
from drill.conductor.journal import DIAGNOSIS, IMPACT, VERIFY, Drill, Journal
from drill.conductor.phases import DRILL_MINUTES
from drill.review import TeamScore
from drill.scenarios import codename

# A team that needs more than this many hints has not isolated the fault on its own.
HINT_BUDGET = 2


@dataclass(frozen=True)
class DrillSummary:
    """One drill's outcome and its success metrics."""

    drill: Drill
    content: Content | None  # None when the scenario's content file is gone
    hints_used: int
    diagnoses: int
    time_to_isolate: timedelta | None
    verify_attempts: int
    time_to_fix: timedelta | None  # first passing verify, since the page
    worst_impact: dict[str, float]
    duration: timedelta | None

    @property
    def isolated_in_time(self) -> bool:
        """Root cause named right in under 20 minutes."""
        return self.time_to_isolate is not None and (
            self.time_to_isolate < diagnose.ISOLATION_TARGET
        )

    @property
    def fixed_in_time(self) -> bool:
        """Fix verified within the drill's 60 minutes."""
        return self.time_to_fix is not None and self.time_to_fix <= timedelta(minutes=DRILL_MINUTES)

    @property
    def within_hint_budget(self) -> bool:
        """No more than HINT_BUDGET hints."""
        return self.hints_used <= HINT_BUDGET


def summarize(drill: Drill, content: Content | None = None) -> DrillSummary:
    """The summary of one drill (content loaded from its lab tree when not given)."""
    if content is None:
        try:
            content = load(drill.root, drill.scenario)
        except ContentError:
            content = None
    passed = [e for e in drill.of_kind(VERIFY) if e.data.get("passed")]
    return DrillSummary(
        drill=drill,
        content=content,
        hints_used=hints.used(drill),
        diagnoses=len(drill.of_kind(DIAGNOSIS)),
        time_to_isolate=diagnose.first_correct(drill),
        verify_attempts=len(drill.of_kind(VERIFY)),
        time_to_fix=passed[0].at - drill.started_at if passed else None,
        worst_impact=impact.worst([e.data.get("values", {}) for e in drill.of_kind(IMPACT)]),
        duration=drill.ended_at - drill.started_at if drill.ended_at else None,
    )


def team_summaries(journal: Journal, team: str | None = None) -> list[DrillSummary]:
    """Every drill of a team (or of every team), oldest first."""
    return [summarize(d) for d in journal.drills(team)]


@dataclass(frozen=True)
class ReportColumn:
    """One column of `drill report`: a header and how to read it from a summary."""

    header: str
    value: Callable[[DrillSummary], str]
    justify: JustifyMethod = "left"


def _mark(ok: bool) -> str:
    return "met" if ok else "missed"


def _duration(value: timedelta | None) -> str:
    return clock.minutes(value) if value is not None else "-"


def _date(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M}"


COLUMNS: list[ReportColumn] = [
    ReportColumn("drill", lambda s: f"#{s.drill.id}", "right"),
    ReportColumn("team", lambda s: s.drill.team),
    ReportColumn("codename", lambda s: codename(s.drill.scenario)),
    ReportColumn("started (UTC)", lambda s: _date(s.drill.started_at)),
    ReportColumn(
        "isolated",
        lambda s: f"{_duration(s.time_to_isolate)} ({_mark(s.isolated_in_time)})",
        "right",
    ),
    ReportColumn("hints", lambda s: str(s.hints_used), "right"),
    ReportColumn("verify tries", lambda s: str(s.verify_attempts), "right"),
    ReportColumn(
        "fix verified",
        lambda s: f"{_duration(s.time_to_fix)} ({_mark(s.fixed_in_time)})",
        "right",
    ),
    ReportColumn(
        "status",
        lambda s: "running" if s.drill.active else f"ended after {_duration(s.duration)}",
    ),
]


def review_table(scores: list[TeamScore]) -> Table:
    """Each team's review drills: the hallucination detection rate, the seed's competency metric."""
    grid = Table(title="Review drills (drill review)", title_justify="left")
    for header in ("team", "reviews", "faults found", "false alarms", "detection rate"):
        grid.add_column(header, justify="left" if header == "team" else "right")
    for score in scores:
        rate = score.detection_rate
        grid.add_row(
            score.team,
            str(score.submissions),
            f"{score.found} of {score.planted}",
            str(score.false_alarms),
            "-" if rate is None else f"{rate:.0%}",
        )
    return grid


def table(summaries: list[DrillSummary], title: str) -> Table:
    """The summaries as a rich table, one row per drill."""
    grid = Table(title=title, title_justify="left")
    for column in COLUMNS:
        grid.add_column(column.header, justify=column.justify)
    for summary in summaries:
        grid.add_row(*(column.value(summary) for column in COLUMNS))
    return grid
