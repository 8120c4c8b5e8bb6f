"""The `drill` command line (Typer + rich).

Exit codes: 0 success (for `verify`: the fix holds), 1 failure (for `verify`: a check failed),
2 bad usage or a lab that cannot be reached.
"""

import asyncio
import json
import os
import time
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from drill import fixes, lab, observability
from drill.audit.cli import audit_command
from drill.conductor import commands as conductor
from drill.conductor import load
from drill.console import EXIT_FAIL, err, fail, out
from drill.grading import (
    NEIGHBOURS,
    ONLY,
    CheckResult,
    LabUnreachable,
    UnknownCheck,
    print_check,
    print_verdict,
    veiled,
)
from drill.paths import NotALabTree, find_root
from drill.review.cli import review_app
from drill.scenarios import Scenario, codenames, registry
from drill.services import SERVICES, port_offset
from drill.traces import launch as trace_receiver
from drill.traces.cli import traces_command
from drill.traces.settings import otlp_environment

app = typer.Typer(
    help="3AM Drill Lab: run the lab, grade a fix, apply or undo a reference fix, run a drill.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Mode(StrEnum):
    """Where the lab runs."""

    AUTO = "auto"
    DOCKER = "docker"
    LOCAL = "local"


def _check_environment() -> None:
    try:
        port_offset()
    except ValueError as exc:
        raise fail(str(exc)) from None


def _root() -> Path:
    _check_environment()
    try:
        return find_root()
    except NotALabTree as exc:
        raise fail(str(exc)) from None


def _print_lab(running: dict[str, lab.RunningService], mode: str) -> None:
    # Plain lines, not a table: URLs must never be cut to fit a narrow terminal.
    out.print(f"[bold]3AM Drill Lab ({mode})[/]")
    for service in running.values():
        ours = f"docs {service.url}/docs  metrics {service.url}/metrics  "
        out.print(
            f"  {service.name:<12} {service.url}  {ours if service.name in SERVICES else ''}"
            f"logs {service.log}",
            soft_wrap=True,
            highlight=False,
        )


def _start_local(root: Path, traces: bool = False) -> dict[str, lab.RunningService]:
    if lab.read_mode(root) == lab.DOCKER:
        raise lab.LabError(f"the Docker lab of {root} is running; drill down first")
    tools = observability.launches(root, note=lambda line: out.print(f"[yellow]{line}[/]"))
    if traces:
        # The services started now learn the receiver from this process's environment; those
        # restarted later, from the lab's state (drill/lab.py).
        os.environ.update(otlp_environment(trace_receiver.receiver_url(), os.environ))
        tools.append(trace_receiver.launch())
    return lab.start(root, extra=tools, progress=lambda line: out.print(f"[dim]{line}[/]"))


@app.command()
def up(
    mode: Annotated[Mode, typer.Option(help="docker, local, or auto (docker when it answers).")] = (
        Mode.AUTO
    ),
    traces: Annotated[
        bool,
        typer.Option(
            "--traces",
            help="Local lab: a trace receiver in Jaeger's place (OTLP/HTTP on port 4318 + "
            "DRILL_PORT_OFFSET); `drill traces` prints what it holds.",
        ),
    ] = False,
) -> None:
    """Start the lab in the background and return once every service is ready."""
    root = _root()
    if traces and mode is Mode.DOCKER:
        raise fail("--traces is for the local lab: the Docker lab has Jaeger")
    if traces:
        mode = Mode.LOCAL
    if mode is not Mode.LOCAL:
        why_not = lab.docker_unavailable(root)
        if why_not is not None and mode is Mode.DOCKER:
            raise fail(f"cannot start the Docker lab: {why_not}; or run `drill up --mode local`")
        if why_not is not None:
            out.print(
                f"[yellow]No Docker lab: {why_not}.[/] Starting the local lab instead "
                "(processes on 127.0.0.1)."
            )
            mode = Mode.LOCAL
        else:
            mode = Mode.DOCKER
    started = time.monotonic()
    try:
        if mode is Mode.LOCAL:
            running = _start_local(root, traces)
        else:
            out.print("Starting the Docker lab (docker compose; the first start builds the image).")
            running = lab.start_docker(root, progress=lambda line: out.print(f"[dim]{line}[/]"))
    except lab.LabError as exc:
        raise fail(str(exc), EXIT_FAIL) from None
    _print_lab(running, mode.value)
    out.print(
        f"[green]Lab is up[/] ({time.monotonic() - started:.0f} s). "
        "Stop it with [bold]drill down[/] (or make down)."
    )


@app.command()
def down() -> None:
    """Stop every service the lab started from this tree (its containers, in the Docker lab)."""
    root = _root()
    try:
        stopped = lab.stop(root)
    except lab.LabError as exc:
        raise fail(str(exc), EXIT_FAIL) from None
    out.print(f"Stopped {', '.join(stopped)}." if stopped else "The lab is not running.")


@app.command()
def verify(
    scenario: Annotated[
        str | None,
        typer.Argument(
            metavar="DRILL",
            help="The drill's codename, e.g. slow-orders (default: the running drill).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scorecard as JSON.")] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--check",
            help="Run only this check (repeatable; its name as the scorecard prints it). A "
            "partial grading is never recorded as a drill's verify.",
        ),
    ] = None,
) -> None:
    """Grade the fix of DRILL against the running lab (exit 0 pass, 1 fail, 2 unreachable)."""
    root = _root()
    if scenario is None:
        scenario = conductor.running_here(root)
        if scenario is None:
            raise fail(f"no drill is running in this tree; name the one to grade: {codenames()}")
    chosen = conductor.scenario_named(scenario)
    # Until the team has named the cause, the scorecard tells no more than the page did.
    veil = conductor.undiagnosed(chosen.id, root)
    if veil and only:
        raise fail("--check names checks, which show after a right `drill diagnose`")

    def shown(check: CheckResult) -> CheckResult:
        return veiled(check, chosen.symptoms) if veil else check

    if not as_json:
        out.print(f"[bold]drill verify {chosen.codename}[/]: {chosen.title}")
    report = None if as_json else (lambda check: print_check(out, shown(check)))
    if only:
        ONLY.set(frozenset(only))
    # A verify during a drill is recorded (a partial one is not: it proves only part of a fix).
    drill_run = None if only else conductor.before_verify(chosen.id, root)
    if drill_run is not None and drill_run.load_process is not None:
        process = drill_run.load_process
        NEIGHBOURS.set((partial(load.pause, process), partial(load.resume, process)))
    try:
        # A drill run earlier may have left these services on a fixed copy: grade the tree's code.
        tree: dict[str, Path | None] = {name: None for name in chosen.services}
        lab.serve(
            root, tree, progress=lambda line: (err if as_json else out).print(f"[dim]{line}[/]")
        )
    except lab.LabError as exc:
        raise fail(str(exc), EXIT_FAIL) from None
    try:
        card = asyncio.run(chosen.grade(root, report))
    except (LabUnreachable, UnknownCheck) as exc:
        raise fail(str(exc)) from None
    if as_json:
        print(json.dumps((card.veiled(chosen.symptoms) if veil else card).as_json(), indent=2))
    else:
        print_verdict(out, card)
    conductor.after_verify(drill_run, card, err if as_json else out)
    raise typer.Exit(0 if card.passed else EXIT_FAIL)


@app.command()
def solve(
    scenario: Annotated[str, typer.Argument(metavar="DRILL", help="The drill's codename.")],
) -> None:
    """Apply DRILL's reference fix to this tree (restarting its services if the lab runs)."""
    chosen = conductor.scenario_named(scenario)
    root = _root()
    try:
        outcome = fixes.solve(root, chosen.id)
    except fixes.FixError as exc:
        raise fail(str(exc), EXIT_FAIL) from None
    _report(root, chosen, "applied the reference fix to", outcome)


@app.command()
def reset(
    scenario: Annotated[
        str | None, typer.Argument(metavar="DRILL", help="The drill's codename.")
    ] = None,
    all_scenarios: Annotated[bool, typer.Option("--all", help="Reset every drill.")] = False,
) -> None:
    """Put DRILL's faulty code back (restarting its services if the lab runs)."""
    if (scenario is None) == (not all_scenarios):
        raise fail("name one drill, or pass --all")
    chosen = (
        list(registry().values()) if all_scenarios else [conductor.scenario_named(scenario or "")]
    )
    root = _root()
    for item in chosen:
        try:
            outcome = fixes.reset(root, item.id)
        except fixes.FixError as exc:
            raise fail(str(exc), EXIT_FAIL) from None
        _report(root, item, "restored the faulty code of", outcome)


def _report(root: Path, scenario: Scenario, verb: str, outcome: fixes.Outcome) -> None:
    if not outcome.changed:
        out.print(f"{scenario.codename}: nothing to change.")
        return
    out.print(f"{scenario.codename}: {verb} {', '.join(outcome.changed)}")
    if outcome.saved_to is not None:
        out.print(f"[yellow]Your edits were saved to {outcome.saved_to}[/]")
    try:
        if any(name in lab.read_state(root) for name in scenario.services):
            out.print(f"Restarting {', '.join(scenario.services)} to serve the new code ...")
            lab.restart(root, scenario.services, progress=lambda line: out.print(f"[dim]{line}[/]"))
    except lab.LabError as exc:
        raise fail(str(exc), EXIT_FAIL) from None


# Review drills and the PR audit live in their own packages (drill/review, drill/audit).
app.add_typer(review_app, name="review")
app.command("audit")(audit_command)
app.command("traces")(traces_command)
conductor.register(app)  # start, status, watch, hint, diagnose, end, postmortem, report, selftest


def main() -> None:
    """Entry point of the `drill` console script."""
    app()
