"""`drill review`: list, read, and submit findings on the catalogue's flawed pull requests."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from drill.checklist import Item
from drill.console import EXIT_FAIL, fail, out
from drill.diffs import hunk_lines
from drill.review import catalogue, store
from drill.review.scoring import TOLERANCE, BadFinding, Verdict, parse_finding, score
from drill.running import refusal

review_app = typer.Typer(
    help="Review drills: find the planted faults in plausible pull requests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def numbered_diff(patch: str) -> Text:
    """The diff in colour, each line after the change numbered as in the changed file: the
    number a finding's FILE:LINE needs."""
    highlighted = Syntax(patch, "diff", theme="ansi_dark").highlight(patch)
    numbered = Text()
    line_no: int | None = None
    for raw, shown in zip(patch.splitlines(), highlighted.split("\n"), strict=False):
        gutter = ""
        if (hunk := hunk_lines(raw)) is not None:
            line_no = hunk.start
        elif line_no is not None and raw[:1] in {"+", " "} and not raw.startswith("+++"):
            gutter = str(line_no)
            line_no += 1
        elif raw.startswith("diff --git"):
            line_no = None
        numbered.append(f"{gutter:>5} ", style="dim")
        numbered.append_text(shown)
        numbered.append("\n")
    return numbered


TeamOption = Annotated[str, typer.Option("--team", help="The team's name, as in the drill log.")]


def _pull_request(pr_id: str) -> catalogue.PullRequest:
    try:
        return catalogue.load(pr_id)
    except catalogue.CatalogueError as exc:
        raise fail(str(exc)) from None


def _refuse_during_a_drill(what: str) -> None:
    """Exit 2 while an incident drill runs: `what` would hand the team its answers."""
    if (refused := refusal(f"{what} wait")) is not None:
        raise fail(refused)


@contextmanager
def _drill_log() -> Iterator[None]:
    """A drill log that cannot be read or written is exit 1 with its message."""
    try:
        yield
    except store.ReviewStoreError as exc:
        raise fail(str(exc), EXIT_FAIL) from None


def _team(team: str) -> str:
    if not team.strip():
        raise fail("--team must name the team")
    return team.strip()


def _rate(rate: float | None) -> str:
    return "no submissions yet" if rate is None else f"{rate:.0%}"


@review_app.command("list")
def list_prs(
    team: Annotated[str | None, typer.Option("--team", help="Show this team's results.")] = None,
) -> None:
    """The pull requests of the catalogue (with --team: what the team found in each)."""
    table = Table(title="Review drills: pull requests", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("title")
    table.add_column("files", overflow="fold")
    with _drill_log():
        done = store.reviewed(_team(team)) if team is not None else {}
        rate = store.detection_rate(team) if team is not None else None
    if team is not None:
        table.add_column(f"{team}: found", justify="right")
    for pr_id in catalogue.ids():
        pr = _pull_request(pr_id)
        row = [pr.id, pr.title, "\n".join(pr.files)]
        if team is not None:
            found = done.get(pr_id)
            row.append(f"{found[0]}/{found[1]}" if found else "-")
        table.add_row(*row)
    out.print(table)
    if team is not None:
        out.print(f"Detection rate of {team}: {_rate(rate)}")


@review_app.command()
def show(pr_id: Annotated[str, typer.Argument(help="Pull request id, e.g. pr-01.")]) -> None:
    """The pull request as a reviewer sees it: title, description, and the diff."""
    pr = _pull_request(pr_id)
    header = Group(
        f"[bold]{pr.id}: {pr.title}[/]  [dim]by {pr.author}[/]",
        "",
        Markdown(pr.description),
    )
    out.print(Panel(header, title="pull request", title_align="left"))
    out.print(numbered_diff(pr.patch), soft_wrap=True)
    out.print(
        f"[dim]Submit: drill review submit {pr.id} --team NAME --finding FILE:LINE:ITEM ...  "
        f"(items: {', '.join(i.value for i in Item)}; LINE is the number in the left margin: "
        "the line in the file after the change)[/]",
        highlight=False,
    )


@review_app.command()
def submit(
    pr_id: Annotated[str, typer.Argument(help="Pull request id, e.g. pr-01.")],
    team: TeamOption,
    finding: Annotated[
        list[str] | None,
        typer.Option(
            "--finding",
            help="FILE:LINE:ITEM, repeatable; LINE in the file after the change.",
        ),
    ] = None,
) -> None:
    """Score the team's findings against the answer key and record them in the drill log."""
    pr = _pull_request(pr_id)
    team = _team(team)
    if not finding:
        raise fail("give the team's findings: --finding FILE:LINE:ITEM (repeatable)")
    try:
        findings = [parse_finding(text) for text in finding]
        faults = catalogue.answer_key(pr.id)
    except (BadFinding, catalogue.CatalogueError) as exc:
        raise fail(str(exc)) from None
    result = score(faults, findings)
    with _drill_log():
        again = store.submitted_before(team, pr.id)
        store.record(team, pr.id, result)
        rate = store.detection_rate(team)
    table = Table(title=f"{team} on {pr.id}: {pr.title}", title_justify="left")
    table.add_column("finding")
    table.add_column("verdict")
    colours = {Verdict.FOUND: "green", Verdict.DUPLICATE: "yellow", Verdict.FALSE_ALARM: "red"}
    for item, verdict in result.verdicts:
        table.add_row(str(item), f"[{colours[verdict]}]{verdict}[/]")
    if result.verdicts:
        out.print(table)
    out.print(
        f"found {result.found} of {result.planted} planted, missed {len(result.missed)}, "
        f"false alarms {result.false_alarms}  (a line counts within ±{TOLERANCE} of the fault)"
    )
    if again:
        out.print(f"[dim]Recorded; only {team}'s first review of {pr.id} counts in its rate.[/]")
    out.print(f"Detection rate of {team}: {_rate(rate)}")


@review_app.command("score")
def team_score(team: TeamOption) -> None:
    """The team's totals over every review it submitted."""
    with _drill_log():
        totals = store.team_score(_team(team))
    out.print(
        f"{totals.team}: {totals.submissions} submission(s), found {totals.found} of "
        f"{totals.planted} planted faults, {totals.false_alarms} false alarms; "
        f"detection rate {_rate(totals.detection_rate)}"
    )


@review_app.command()
def key(pr_id: Annotated[str, typer.Argument(help="Pull request id, e.g. pr-01.")]) -> None:
    """Instructors only: the answer key of a pull request, for the wrap-up."""
    pr = _pull_request(pr_id)
    _refuse_during_a_drill("the answer keys")
    try:
        faults = catalogue.answer_key(pr.id)
    except catalogue.CatalogueError as exc:
        raise fail(str(exc)) from None
    out.print(f"[bold]{pr.id}: {pr.title}[/] (answer key: instructors only)")
    for fault in faults:
        ranges = ", ".join(f"{a}-{b}" for a, b in fault.ranges)
        by = "drill audit finds it" if fault.audit else "only a reviewer finds it"
        out.print(f"- [bold]{fault.item}[/] {fault.file}:{ranges} ({by})", highlight=False)
        out.print(f"  {' '.join(fault.why.split())}", highlight=False)
        if fault.human_only:
            why_not = " ".join(fault.human_only.split())
            out.print(f"  [dim]Why not the audit: {why_not}[/]", highlight=False)
