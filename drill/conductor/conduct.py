"""The drill's operations, shared by the commands: start, note alerts and impact, verify
attempts, end. Each writes the journal in one transaction, after the fact it records."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from drill import fixes, lab
from drill.conductor import alerts, clock, impact, load
from drill.conductor.content import Content
from drill.conductor.journal import ALERT, IMPACT, VERIFY, Drill, Journal
from drill.grading import Scorecard
from drill.paths import state_dir
from drill.scenarios import registry


def run_dir(root: Path, started: datetime) -> Path:
    """Where a drill's Locust log and CSV stats go: the tree's git-ignored .drill/."""
    return state_dir(root) / "drills" / started.strftime("%Y%m%dT%H%M%SZ")


def start(
    journal: Journal, *, root: Path, scenario: str, team: str, users: int
) -> tuple[Drill, load.LoadProcess]:
    """Record the drill and start its load; if the load cannot start, the drill is closed at
    once (recorded as failed to start), so no half-started drill blocks the next one."""
    at = clock.now()
    drill = journal.start(team=team, scenario=scenario, root=root, at=at, run_dir=run_dir(root, at))
    try:
        process = load.start(root, scenario, users, drill.run_dir)
    except (load.LoadError, OSError) as exc:
        journal.end(drill.id, clock.now(), {"reason": f"load failed to start: {exc}"})
        raise
    try:
        journal.set_load(
            drill.id,
            process.pid,
            {
                "pid": process.pid,
                "started": process.started,
                "users": users,
                "locustfile": str(process.locustfile),
            },
            clock.now(),
        )
    except BaseException:
        load.stop(process.process)  # never leave load running that no drill knows of
        raise
    return drill, process


def note_alerts(journal: Journal, drill: Drill, reading: alerts.AlertReading) -> list[str]:
    """Record each alert the first time the conductor sees it firing; returns the new names."""
    seen = {e.data.get("name") for e in drill.of_kind(ALERT)}
    new = [a for a in reading.alerts if a.name not in seen]
    for alert in new:
        # The alert's own start time when the tool gives one (not before the drill began: an
        # alert left over from an earlier drill fired, for this one, when the drill started).
        at = max(alert.since, drill.started_at) if alert.since else clock.now()
        journal.record(
            drill.id,
            ALERT,
            at,
            {"name": alert.name, "severity": alert.severity, "source": reading.source},
        )
    return [a.name for a in new]


def sample_impact(journal: Journal, drill: Drill, content: Content) -> dict[str, float]:
    """Measure the scenario's impact metrics now and record them (nothing if none answer)."""
    values = impact.measure(content.impact)
    if values:
        journal.record(drill.id, IMPACT, clock.now(), {"values": values})
    return values


def record_verify(journal: Journal, drill: Drill, card: Scorecard, changes: str) -> int:
    """Record one `drill verify` attempt and its scorecard; returns the attempt number.
    `changes` (what the code changed) is kept with a passing attempt: it is what fixed it."""
    data: dict[str, Any] = {"passed": card.passed, "scorecard": card.as_json()}
    if card.passed:
        data["changes"] = changes
    journal.record(drill.id, VERIFY, clock.now(), data)
    return len(drill.of_kind(VERIFY)) + 1


@dataclass(frozen=True)
class Ending:
    """What `drill end` did."""

    load_was_running: bool
    stats: load.LoadStats | None


def end(journal: Journal, drill: Drill, reason: str = "") -> Ending:
    """Stop the load, read its final numbers, and close the drill."""
    was_running = load.stop(drill.load_process)
    stats = load.stats(drill.run_dir / "locust")
    data: dict[str, Any] = {"reason": reason} if reason else {}
    if stats is not None:
        data["locust"] = {
            "requests": stats.requests,
            "failures": stats.failures,
            "p50_ms": stats.p50_ms,
            "p99_ms": stats.p99_ms,
            "rps": stats.rps,
        }
    journal.end(drill.id, clock.now(), data)
    return Ending(was_running, stats)


def restore_poisoned(root: Path, scenario: str, note: Callable[[str], None]) -> None:
    """Put the scenario's faulty code back (saving a trainee's edits) and restart its services
    if the lab runs them, so that the lab serves what the drill starts from (the tree's code,
    even where an earlier drill left them on a fixed copy).

    A tree that was never solved and is not a git checkout has nothing to restore from; its code
    is taken as it is, and the note says so.
    """
    services = registry()[scenario].services
    try:
        outcome = fixes.reset(root, scenario)
    except fixes.FixError as exc:
        if fixes.is_solved(root, scenario):
            raise
        note(f"could not check that the code is the faulty version ({exc}); using it as it is")
    else:
        if outcome.saved_to is not None:
            note(f"edits from an earlier attempt were saved to {outcome.saved_to}")
        if outcome.changed and any(name in lab.read_state(root) for name in services):
            note(f"restarting {', '.join(services)} to serve the faulty code")
            lab.restart(root, services, progress=note)
    lab.serve(root, {name: None for name in services}, progress=note)


def isolate(root: Path, scenario: str, note: Callable[[str], None]) -> None:
    """Serve every other drill's services from a copy holding its reference fix (this drill's
    serve the tree, restore_poisoned saw to it): during a drill only its own fault is live, so
    every alert that fires and every odd signal a team chases is one the drill caused."""
    scenarios = registry()
    others = [s for s in scenarios.values() if s.id != scenario]
    served = [s.code for s in lab.read_state(root).values() if s.code]
    code = fixes.fixed_copy(root, [s.id for s in others], keep=served)
    plan: dict[str, Path | None] = {name: code for s in others for name in s.services}
    restarted = lab.serve(root, plan, progress=note)
    if restarted:
        note(f"{', '.join(restarted)} restarted on known-good code: only the paged fault is live")
