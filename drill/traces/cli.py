"""`drill traces`: the last traces the local lab's receiver holds, as indented trees."""

from pathlib import Path
from typing import Annotated

import typer

from drill import lab
from drill.console import EXIT_FAIL, fail, out
from drill.paths import NotALabTree, find_root
from drill.traces import client
from drill.traces.launch import receiver_url
from drill.traces.settings import RECEIVER
from drill.traces.tree import render

JAEGER_UI = "http://localhost:16686"


def _receiver(root: Path) -> str:
    """The URL of the receiver the tree's lab runs, or where it would listen."""
    if lab.read_mode(root) == lab.DOCKER:
        raise fail(f"the Docker lab keeps its traces in Jaeger: open {JAEGER_UI}", EXIT_FAIL)
    running = lab.read_state(root).get(RECEIVER)
    return running.url if running is not None else receiver_url()


def traces_command(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many traces.")] = 5,
    service: Annotated[
        str | None, typer.Option(help="Only traces with a span of this service.")
    ] = None,
    trace_id: Annotated[str | None, typer.Option("--trace", help="Just this trace id.")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Every span on its own line (alike ones not counted).")
    ] = False,
) -> None:
    """Print the last traces the lab's receiver holds (drill up --traces), newest first."""
    try:
        root = find_root()
        url = _receiver(root)
    except (NotALabTree, ValueError, lab.LabError) as exc:
        raise fail(str(exc)) from None
    try:
        found = [client.trace(url, trace_id)] if trace_id else client.traces(url, limit, service)
    except client.ReceiverUnreachable as exc:
        raise fail(f"{exc}; start the lab with `drill up --traces`", EXIT_FAIL) from None
    found = [spans for spans in found if spans]
    if not found:
        which = f"trace {trace_id}" if trace_id else "traces"
        out.print(f"No {which} received yet (a service sends its spans within seconds).")
        return
    for spans in found:
        for line in render(spans, full=full):
            out.print(line, soft_wrap=True, highlight=False, markup=False)
        out.print()
