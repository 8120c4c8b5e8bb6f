"""`drill status` and `drill watch`: where the drill stands, as one rich renderable."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from drill.conductor import clock, diagnose, hints, load
from drill.conductor.alerts import AlertReading
from drill.conductor.content import Content
from drill.conductor.journal import VERIFY, Drill
from drill.conductor.phases import PHASES, Phase, phase_at
from drill.scenarios import codename


@dataclass(frozen=True)
class Status:
    """A drill at one instant."""

    drill: Drill
    content: Content
    now: datetime
    alerts: AlertReading
    load_running: bool

    @property
    def elapsed(self) -> timedelta:
        """Time since the page."""
        return self.now - self.drill.started_at

    @property
    def phase(self) -> Phase:
        """The phase the drill is in."""
        return phase_at(self.elapsed)


def build(drill: Drill, content: Content, reading: AlertReading) -> Status:
    """The drill's status now (clock.now, so tests can move time)."""
    return Status(drill, content, clock.now(), reading, load.running(drill.load_process))


def _phase_table(status: Status) -> Table:
    table = Table.grid(padding=(0, 2))
    for phase in PHASES:
        current = phase == status.phase
        marker = "->" if current else "  "
        style = "bold" if current else "dim"
        table.add_row(
            Text(marker, style=style),
            Text(f"{phase.start_min:>2}-{phase.end_min} min", style=style),
            Text(phase.title, style=style),
        )
    return table


def render(status: Status) -> RenderableType:
    """The status as `drill status` prints it and `drill watch` refreshes it."""
    drill, phase = status.drill, status.phase
    head = Text.assemble(
        (f"Drill #{drill.id}", "bold"),
        f"  {codename(drill.scenario)}  team {drill.team}  elapsed ",
        (clock.minutes(status.elapsed), "bold"),
        f" of 60:00  (started {drill.started_at:%H:%M:%S} UTC)",
    )
    if phase.key == "overtime":
        now_line = Text(f"Phase: {phase.title}", style="bold red")
    else:
        left = clock.minutes(phase.remaining(status.elapsed))
        now_line = Text.assemble(
            ("Phase: ", "bold"), (phase.title, "bold cyan"), f"  ({left} left)"
        )
    parts: list[RenderableType] = [head, _phase_table(status), now_line, Text(phase.expected)]

    reading = status.alerts
    if reading.source is None:
        parts.append(Text(f"Alerts: {reading.note}", style="yellow"))
    elif not reading.alerts:
        parts.append(Text(f"Alerts: none firing ({reading.source})"))
    else:
        table = Table(title=f"Firing alerts ({reading.source})", title_justify="left")
        for column in ("alert", "severity", "since", "summary"):
            table.add_column(column)
        for alert in reading.alerts:
            since = f"{alert.since:%H:%M:%S}" if alert.since else "?"
            table.add_row(alert.name, alert.severity, since, alert.summary)
        parts.append(table)

    load_line = (
        Text(f"Load: running (Locust pid {drill.load_pid})", style="green")
        if status.load_running
        else Text("Load: not running", style="yellow")
    )
    parts.append(load_line)
    isolated = diagnose.first_correct(drill)
    attempts = drill.of_kind(VERIFY)
    passed = [e for e in attempts if e.data.get("passed")]
    parts.append(
        Text(
            f"Hints used: {hints.used(drill)} of {len(status.content.hints)}.  "
            f"Root cause named: {clock.minutes(isolated) if isolated else 'not yet'}.  "
            f"Verify attempts: {len(attempts)}"
            + (f", passed at {clock.minutes(passed[0].at - drill.started_at)}" if passed else "")
            + "."
        )
    )
    return Panel(Group(*parts), title="3AM drill", title_align="left")
