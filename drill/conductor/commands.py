"""The conductor's commands, registered on the `drill` app by `register(app)`.

Exit codes as everywhere in `drill`: 0 done, 1 failed (for `selftest`: a drill is broken),
2 bad usage, no drill running, or a lab that cannot be reached.
"""

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec

import click
import httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from drill import fixes, lab, review
from drill.conductor import (
    alerts,
    changes,
    clock,
    conduct,
    diagnose,
    hints,
    postmortem,
    report,
    rotation,
    selftest,
    status,
)
from drill.conductor.content import Content, ContentError, load
from drill.conductor.journal import (
    DIAGNOSIS,
    HINT,
    VERIFY,
    Drill,
    DrillActive,
    Journal,
    JournalError,
)
from drill.conductor.load import LoadError
from drill.console import EXIT_FAIL, err, fail, out
from drill.grading import LabUnreachable, Scorecard
from drill.paths import NotALabTree, find_root
from drill.scenarios import Scenario, UnknownScenario, codename, find, registry
from drill.services import SERVICES, port_offset

P = ParamSpec("P")
NO_DRILL = "no drill is running; start one: drill start DRILL --team NAME"


def _journal() -> Journal:
    try:
        clock.now()  # a bad DRILL_NOW / DRILL_CLOCK_OFFSET is bad usage, said before anything
        port_offset()
        return Journal()
    except (clock.ClockError, ValueError) as exc:
        raise fail(str(exc)) from None
    except JournalError as exc:
        raise fail(str(exc), EXIT_FAIL) from None


def _root() -> Path:
    try:
        return find_root()
    except NotALabTree as exc:
        raise fail(str(exc)) from None


def _active(journal: Journal) -> Drill:
    drill = journal.active()
    if drill is None:
        raise fail(NO_DRILL)
    return drill


def scenario_named(name: str) -> Scenario:
    """The drill NAME (a codename, or an instructor's id); an unknown one is bad usage."""
    try:
        return find(name)
    except UnknownScenario as exc:
        raise fail(str(exc)) from None


def _content(drill_root: Path, scenario: str) -> Content:
    try:
        return load(drill_root, scenario)
    except ContentError as exc:
        raise fail(str(exc), EXIT_FAIL) from None


def _require_lab(scenario: Scenario) -> None:
    """Exit 2 unless every service of the scenario answers /readyz."""
    for name in scenario.services:
        url = SERVICES[name].url
        try:
            ready = httpx.get(f"{url}/readyz", timeout=5.0).status_code == 200
        except httpx.HTTPError as exc:
            raise fail(
                f"{name} does not answer at {url} ({type(exc).__name__}); start the lab: drill up"
            ) from None
        if not ready:
            raise fail(f"{name} at {url} is not ready; check `drill up` and its log")


def _refresh(journal: Journal, drill: Drill, content: Content) -> status.Status:
    """Read alerts and impact, record what is new, and return the drill's status now."""
    reading = alerts.read_alerts()
    conduct.note_alerts(journal, drill, reading)
    if drill.load_pid is not None:
        conduct.sample_impact(journal, drill, content)
    return status.build(journal.get(drill.id) or drill, content, reading)


def start(
    scenario: Annotated[
        str | None,
        typer.Argument(
            metavar="DRILL", help="The drill's codename, e.g. slow-orders; or --random."
        ),
    ] = None,
    team: Annotated[str, typer.Option(help="The team on call (drills are kept per team).")] = (
        "default"
    ),
    random_pick: Annotated[
        bool, typer.Option("--random", help="A drill this team has not done yet.")
    ] = False,
    users: Annotated[
        int | None,
        typer.Option(min=1, help="Locust users (default: the drill's, e.g. 2 for slow-orders)."),
    ] = None,
) -> None:
    """Start a drill: reset DRILL to its faulty state, start its load, and page the team."""
    if (scenario is None) == (not random_pick):
        raise fail("name one drill, or pass --random (with --team)")
    if not team.strip():
        raise fail("--team needs a name")
    journal = _journal()
    root = _root()
    scenarios = registry()
    if random_pick:
        scenario, why = rotation.pick(list(scenarios), journal.drills(team))
        out.print(f"[dim]Picked {codename(scenario)} for team {team}: {why}.[/]")
    assert scenario is not None
    scenario = scenario_named(scenario).id
    if (running := journal.active()) is not None:
        raise fail(
            f"drill #{running.id} ({codename(running.scenario)}, team {running.team}) is still "
            "running; close it first: drill end"
        )
    content = _content(root, scenario)
    _require_lab(scenarios[scenario])
    try:
        conduct.restore_poisoned(root, scenario, lambda line: out.print(f"[dim]{line}[/]"))
        conduct.isolate(root, scenario, lambda line: out.print(f"[dim]{line}[/]"))
        drill, process = conduct.start(
            journal, root=root, scenario=scenario, team=team, users=users or content.load_users
        )
    except DrillActive as exc:
        raise fail(str(exc)) from None
    except (LoadError, lab.LabError, fixes.FixError, OSError) as exc:
        raise fail(str(exc), EXIT_FAIL) from None
    page = Panel(
        content.pager,
        title=f"PAGE  {drill.started_at:%H:%M:%S} UTC  to: on-call, team {team}",
        title_align="left",
        border_style="red",
    )
    out.print(page, soft_wrap=False)
    # The page names no alert: at the page the drill's alerts have not fired yet (they need the
    # load's first minutes), so only what really fires now is listed.
    reading = alerts.read_alerts()
    firing = ", ".join(sorted({a.name for a in reading.alerts})) or "nothing yet"
    out.print(
        f"Firing now: {firing if reading.source else reading.note}; `drill status` lists the "
        "alerts as they fire.",
        highlight=False,
    )
    out.print(
        f"Drill #{drill.id} started ({codename(scenario)}); load: {process.users} Locust users "
        f"(pid {process.pid}, log {process.log}).\n"
        "The clock runs: `drill status` (or `drill watch`) shows the phase and the alerts; "
        "`drill hint`, `drill diagnose`, `drill verify`, `drill end`.",
        highlight=False,
    )


def status_command() -> None:
    """Where the drill stands: elapsed time, phase, firing alerts, load."""
    journal = _journal()
    drill = _active(journal)
    content = _content(drill.root, drill.scenario)
    try:
        out.print(status.render(_refresh(journal, drill, content)))
    except JournalError as exc:
        raise fail(str(exc), EXIT_FAIL) from None


def watch(
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between refreshes.")] = 5.0,
    count: Annotated[
        int, typer.Option(min=0, help="Stop after this many refreshes (0: until Ctrl-C).")
    ] = 0,
) -> None:
    """`drill status`, refreshed live until the drill ends (or Ctrl-C)."""
    journal = _journal()
    drill = _active(journal)
    content = _content(drill.root, drill.scenario)
    shown = 0
    try:
        with Live(status.render(_refresh(journal, drill, content)), console=out) as live:
            shown = 1
            while count == 0 or shown < count:
                time.sleep(interval)
                current = journal.get(drill.id)
                if current is None or not current.active:
                    live.update(Panel(f"Drill #{drill.id} has ended: drill postmortem"))
                    break
                live.update(status.render(_refresh(journal, current, content)))
                shown += 1
    except KeyboardInterrupt:
        pass
    except JournalError as exc:
        raise fail(str(exc), EXIT_FAIL) from None


def hint(
    again: Annotated[
        bool, typer.Option("--again", help="Show the hints already taken; take no new one.")
    ] = False,
) -> None:
    """Take the next hint of the running drill (each one is recorded)."""
    journal = _journal()
    drill = _active(journal)
    content = _content(drill.root, drill.scenario)
    if again:
        taken = hints.revealed(drill, content)
        for n, text in enumerate(taken, start=1):
            out.print(f"[bold]Hint {n} of {len(content.hints)}[/]: {text}", highlight=False)
        if not taken:
            out.print("No hint taken yet.")
        return
    following = hints.next_hint(drill, content)
    if following is None:
        out.print(f"All {len(content.hints)} hints are taken. Ask the instructor, or keep digging.")
        return
    number, text = following
    try:
        journal.record(drill.id, HINT, clock.now(), {"number": number})
    except JournalError as exc:
        raise fail(str(exc), EXIT_FAIL) from None
    out.print(f"[bold]Hint {number} of {len(content.hints)}[/]: {text}", highlight=False)
    out.print(f"[dim]Recorded at {clock.minutes(clock.now() - drill.started_at)}.[/]")


def diagnose_command(
    service: Annotated[
        str | None, typer.Option(help="Where the root cause is (a service name, or its number).")
    ] = None,
    mechanism: Annotated[
        str | None, typer.Option(help="What mechanism (its number, as the prompt lists them).")
    ] = None,
) -> None:
    """State the root cause (multiple choice; prompts for what the options do not give)."""
    journal = _journal()
    drill = _active(journal)
    content = _content(drill.root, drill.scenario)
    given = {"service": service, "mechanism": mechanism}
    answers: dict[str, str] = {}
    for question in content.questions:
        raw = given.get(question.key)
        try:
            if raw is None:
                out.print(f"[bold]{question.question}[/]")
                for n, text in enumerate(question.choices.values(), start=1):
                    out.print(f"  {n}. {text}", highlight=False)
                named = diagnose.named(question)
                raw = typer.prompt("Your answer (number or name)" if named else "Your answer")
            answers[question.key] = diagnose.resolve(question, raw)
        except diagnose.BadChoice as exc:
            raise fail(str(exc)) from None
        except (typer.Abort, click.Abort, EOFError):  # stdin closed: no one to answer
            raise fail(
                f"no answer for {question.key!r}: answer the prompt, or pass --service and "
                "--mechanism"
            ) from None
    verdict = diagnose.judge(content, answers)
    at = clock.now()
    try:
        journal.record(
            drill.id,
            DIAGNOSIS,
            at,
            {"answers": answers, "right": verdict.right, "correct": verdict.correct},
        )
    except JournalError as exc:
        raise fail(str(exc), EXIT_FAIL) from None
    elapsed = at - drill.started_at
    if verdict.correct:
        target = "within" if elapsed < diagnose.ISOLATION_TARGET else "over"
        out.print(
            f"[bold green]Right.[/] Root cause isolated at {clock.minutes(elapsed)} "
            f"({target} the 20-minute target). Now fix it, and `drill verify`."
        )
    else:
        wrong = [k for k, ok in verdict.right.items() if not ok]
        out.print(
            f"[bold yellow]Not yet.[/] Recorded at {clock.minutes(elapsed)}; "
            f"not right: {', '.join(wrong)}. Keep investigating."
        )


def end() -> None:
    """Stop the drill's load and close the drill."""
    journal = _journal()
    drill = _active(journal)
    content = _content(drill.root, drill.scenario)
    try:
        conduct.sample_impact(journal, drill, content)
        ending = conduct.end(journal, drill)
    except JournalError as exc:
        raise fail(str(exc), EXIT_FAIL) from None
    elapsed = clock.minutes(clock.now() - drill.started_at)
    load_note = "load stopped" if ending.load_was_running else "the load was not running"
    out.print(f"Drill #{drill.id} ended after {elapsed}; {load_note}.")
    if ending.stats is not None:
        s = ending.stats
        out.print(
            f"Locust: {s.requests} requests, {s.failures} failed, P99 {s.p99_ms:.0f} ms.",
            highlight=False,
        )
    out.print("Write the post-mortem: drill postmortem")


def postmortem_command(
    drill_id: Annotated[
        int | None, typer.Option("--drill", help="Drill number (default: the latest).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Where to write it (default: reports/postmortems/ in the lab tree)."),
    ] = None,
    to_stdout: Annotated[
        bool, typer.Option("--print", help="Also print the Markdown to the terminal.")
    ] = False,
) -> None:
    """Write the blameless post-mortem of a drill, in Markdown, from the drill log."""
    journal = _journal()
    drill = journal.get(drill_id) if drill_id is not None else journal.latest()
    if drill is None:
        raise fail(
            f"no drill #{drill_id} in the drill log" if drill_id else "no drill in the drill log"
        )
    if drill.active:
        # The post-mortem names the root cause and the fix: never during the drill.
        raise fail(f"drill #{drill.id} is still running; the post-mortem comes after: drill end")
    summary = report.summarize(drill)
    fixed = [e for e in drill.of_kind(VERIFY) if e.data.get("passed")]
    note = fixed[0].data.get("changes", "") if fixed else ""
    if not fixed:
        note = "Not fixed during the drill: no `drill verify` passed."
    text = postmortem.render(summary, note)
    target = output or (
        (drill.root if drill.root.is_dir() else Path.cwd())
        / "reports"
        / "postmortems"
        / f"drill-{drill.id}-{codename(drill.scenario)}.md"
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {target}: {exc}", EXIT_FAIL) from None
    if to_stdout:
        print(text)
    out.print(f"Post-mortem of drill #{drill.id} written to {target}", highlight=False)


def report_command(
    team: Annotated[str | None, typer.Option(help="Only this team's drills.")] = None,
) -> None:
    """A team's drills side by side, and its review drills' hallucination detection rate."""
    journal = _journal()
    summaries = report.team_summaries(journal, team)
    try:
        reviewers = review.teams()
        teams = [team] if team else sorted({s.drill.team for s in summaries} | set(reviewers))
        scores = [score for score in map(review.team_score, teams) if score.submissions]
    except review.ReviewStoreError as exc:
        raise fail(str(exc), EXIT_FAIL) from None
    if not summaries and not scores:
        out.print(f"No drills yet{f' for team {team}' if team else ''}.")
        return
    if summaries:
        title = f"Drills of team {team}" if team else "Drills of every team"
        out.print(report.table(summaries, title))
    if scores:
        out.print(report.review_table(scores))


def selftest_command(
    scenarios: Annotated[
        list[str] | None, typer.Argument(metavar="DRILL", help="Drills (default: every drill).")
    ] = None,
) -> None:
    """Every drill: reset, verify must fail; solve, verify must pass; reset (needs drill up)."""
    known = registry()
    chosen = [scenario_named(name).id for name in scenarios] if scenarios else list(known)
    journal = _journal()
    if (running := journal.active()) is not None:
        raise fail(
            f"drill #{running.id} is running; selftest would reset its code: drill end first"
        )
    root = _root()
    for scenario_id in chosen:
        _require_lab(known[scenario_id])
    started = time.perf_counter()
    results = []
    for scenario_id in chosen:
        out.print(f"[bold]{scenario_id}[/]")
        try:
            results.append(
                selftest.run_one(root, known[scenario_id], lambda s: out.print(f"[dim]{s}[/]"))
            )
        except LabUnreachable as exc:
            raise fail(str(exc)) from None
    table = Table(title="drill selftest", title_justify="left")
    for column in ("scenario", "faulty code fails", "reference fix passes", "time", "verdict"):
        table.add_column(column)
    for r in results:
        bad_fixed = [
            f"{c.name} (measured: {c.measured})"
            for c in (r.fixed.checks if r.fixed else [])
            if not c.passed
        ]
        table.add_row(
            r.scenario,
            "yes" if r.poisoned_fails else "NO: the grader misses the fault",
            "yes" if r.fixed_passes else f"NO: {'; '.join(bad_fixed) or r.error}",
            f"{r.duration_s:.0f} s",
            "[green]ready[/]" if r.ok else f"[red]BROKEN[/] {r.error}",
        )
    out.print(table)
    broken = [r.scenario for r in results if not r.ok]
    total = time.perf_counter() - started
    if broken:
        raise fail(f"broken drills: {', '.join(broken)} ({total:.0f} s)", EXIT_FAIL)
    out.print(f"[green]Every drill is ready[/] ({len(results)} in {total:.0f} s).")


def running_here(root: Path) -> str | None:
    """The id of the drill running in this tree, if any: what `drill verify` grades unnamed."""
    drill = _journal().active()
    return drill.scenario if drill is not None and drill.root == root else None


def undiagnosed(scenario: str, root: Path) -> bool:
    """Whether a drill of `scenario` runs in this tree and its team has not yet named the cause
    right: until then `drill verify` shows only the checks that say no more than the page. A
    drill log that cannot be read hides nothing (verify still grades, and says it went
    unrecorded)."""
    try:
        drill = Journal().active()
    except Exception:  # the drill log is a side path: it must never break the grade
        return False
    return (
        drill is not None
        and drill.scenario == scenario
        and drill.root == root
        and diagnose.first_correct(drill) is None
    )


def before_verify(scenario: str, root: Path) -> Drill | None:
    """The running drill this verify belongs to (same scenario, same tree), after sampling the
    impact while the fault may still be live; None outside a drill. Never fails the verify."""
    try:
        drill = Journal().active()
        if drill is None or drill.scenario != scenario or drill.root != root:
            return None
        conduct.sample_impact(Journal(), drill, load(root, scenario))
        return drill
    except Exception as exc:  # recording is a side path: it must never break the grade
        err.print(f"[yellow]warning:[/] this verify is not recorded in the drill log: {exc}")
        return None


def after_verify(drill: Drill | None, card: Scorecard, console: Console) -> None:
    """Record a verify attempt and its scorecard in the running drill."""
    if drill is None:
        return
    try:
        journal = Journal()
        current = journal.get(drill.id) or drill
        attempt = conduct.record_verify(
            journal,
            current,
            card,
            changes.describe(drill.root, drill.scenario) if card.passed else "",
        )
    except Exception as exc:  # recording is a side path: it must never break the grade
        err.print(f"[yellow]warning:[/] this verify is not recorded in the drill log: {exc}")
        return
    elapsed = clock.minutes(clock.now() - drill.started_at)
    console.print(f"[dim]Recorded as attempt {attempt} of drill #{drill.id}, at {elapsed}.[/]")


def _guarded(command: Callable[P, None]) -> Callable[P, None]:
    """The command, with a drill log that fails mid-way reported as exit 1, not a traceback
    (each write is one transaction: nothing half-written stays behind)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except JournalError as exc:
            raise fail(str(exc), EXIT_FAIL) from None

    return run


def register(app: typer.Typer) -> None:
    """Add the conductor's commands to the `drill` app."""
    app.command("start")(_guarded(start))
    app.command("status")(_guarded(status_command))
    app.command("watch")(_guarded(watch))
    app.command("hint")(_guarded(hint))
    app.command("diagnose")(_guarded(diagnose_command))
    app.command("end")(_guarded(end))
    app.command("postmortem")(_guarded(postmortem_command))
    app.command("report")(_guarded(report_command))
    app.command("selftest")(_guarded(selftest_command))
