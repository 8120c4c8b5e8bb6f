"""`drill audit [PATH | --diff REV] [--json]`: the checklist as code, on a tree or on a change."""

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from drill.audit.runner import AuditError, audit, changed_lines, git_root
from drill.console import EXIT_FAIL, fail, out
from drill.running import refusal


def audit_root(target: Path) -> Path:
    """Where imports resolve from: the first folder above the target that is not a package."""
    folder = target if target.is_dir() else target.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return folder


def audit_command(
    path: Annotated[
        Path | None,
        typer.Argument(help="File or folder to audit (default: services/ here, else here)."),
    ] = None,
    diff: Annotated[
        str | None,
        typer.Option("--diff", metavar="REV", help="Audit only the lines changed since REV."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check code against the PR checklist (exit 0 clean, 1 findings, 2 bad usage)."""
    # The audit names the code-visible planted faults by file and line.
    if (refused := refusal("the audit waits")) is not None:
        raise fail(refused)
    started = time.perf_counter()
    try:
        if path is not None and diff is not None:
            raise AuditError("give a PATH or --diff REV, not both")
        if diff is not None:
            root = git_root(Path.cwd())
            findings = audit(root, [root], changed_lines(root, diff))
            scope = f"lines changed since {diff}"
        else:
            cwd = Path.cwd()
            target = path if path is not None else cwd / "services"
            if path is None and not target.is_dir():
                target = cwd
            target = target.resolve()
            if not target.exists():
                raise AuditError(f"no such file or folder: {path}")
            root = audit_root(target)
            findings = audit(root, [target])
            scope = str(target)
    except AuditError as exc:
        raise fail(str(exc)) from None
    elapsed = time.perf_counter() - started
    if as_json:
        print(
            json.dumps({"root": str(root), "findings": [f.as_json() for f in findings]}, indent=2)
        )
    else:
        for f in findings:
            out.print(
                f"{f.path}:{f.line}: [bold]{f.item}[/] {f.message} [dim]({f.check})[/]",
                highlight=False,
                soft_wrap=True,
            )
        verdict = f"[red]{len(findings)} finding(s)[/]" if findings else "[green]clean[/]"
        out.print(f"drill audit: {verdict} in {scope} ({elapsed:.1f} s)", highlight=False)
    raise typer.Exit(EXIT_FAIL if findings else 0)
