"""Collects the files, runs ruff and every AST check, keeps the findings on changed lines."""

import ast
from collections.abc import Iterable, Sequence
from pathlib import Path

from drill.audit import ruff
from drill.audit.checks import (
    call_cycle,
    error_paths,
    float_money,
    hallucinated_api,
    retry_idempotency,
    unbounded_query,
)
from drill.audit.findings import Finding, Module
from drill.checklist import Item
from drill.diffs import hunk_lines
from drill.git import git

SKIPPED_DIRS = frozenset({".git", ".venv", ".drill", "__pycache__", "node_modules", "build"})


class AuditError(Exception):
    """The audit cannot run as asked (a path that does not exist, a revision git does not know)."""


def python_files(root: Path, targets: Iterable[Path]) -> list[Path]:
    """Every .py file under the targets (files or folders), skipping virtualenvs and caches."""
    files: set[Path] = set()
    for target in targets:
        target = target.resolve()
        if not target.exists():
            raise AuditError(f"no such file or folder: {target}")
        if target.is_file():
            files.add(target)
            continue
        for path in target.rglob("*.py"):
            if not SKIPPED_DIRS & set(path.relative_to(target).parts):
                files.add(path)
    return sorted(files)


def _parse(root: Path, files: Sequence[Path]) -> tuple[list[Module], list[Finding]]:
    modules, broken = [], []
    for path in files:
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as exc:
            rel = path.relative_to(root).as_posix()
            broken.append(
                Finding(
                    rel,
                    exc.lineno or 1,
                    Item.HALLUCINATED_API,
                    f"does not parse: {exc.msg}",
                    "parse",
                )
            )
            continue
        modules.append(Module(root=root, path=path, source=source, tree=tree))
    return modules, broken


def audit(
    root: Path, targets: Sequence[Path], changed: dict[str, set[int]] | None = None
) -> list[Finding]:
    """The checklist findings in the targets, sorted; with `changed`, only on those lines.

    Paths in findings and in `changed` are relative to `root`, which is also where first-party
    imports (services.kit...) resolve.
    """
    root = root.resolve()
    files = python_files(root, targets)
    outside = [f for f in files if not f.is_relative_to(root)]
    if outside:
        raise AuditError(f"{outside[0]} is outside the audited tree {root}")
    modules, findings = _parse(root, files)
    hallucinated_api.forget()
    # Models and the call graph are read from the whole top-level package around each target,
    # so that auditing one file still knows its models' relationships and the other services.
    audited = {m.path for m in modules}
    context_files = python_files(root, _packages_around(root, files))
    context = modules + _parse(root, [f for f in context_files if f not in audited])[0]
    models = unbounded_query.relationships(context)
    for module in modules:
        float_money.check(module)
        error_paths.check(module)
        unbounded_query.check(module, models)
        retry_idempotency.check(module)
        hallucinated_api.check(module)
    call_cycle.check(context)
    by_path = {module.rel: module for module in modules}
    try:
        findings += ruff.run(root, [m.path for m in modules])
    except ruff.RuffFailed as exc:
        raise AuditError(str(exc)) from exc
    for module in modules:
        findings += module.findings
    kept = []
    for finding in set(findings):
        source = by_path.get(finding.path)
        if source is not None and source.allows(finding.line, finding.item):
            continue
        if changed is not None and finding.line not in changed.get(finding.path, set()):
            continue
        kept.append(finding)
    return sorted(kept)


def _packages_around(root: Path, files: Sequence[Path]) -> list[Path]:
    """The top-level folders (below root) holding the files: services/ for services/a/b.py."""
    tops = {root / f.relative_to(root).parts[0] for f in files}
    return sorted(top for top in tops if top.is_dir())


def git_root(cwd: Path) -> Path:
    """The top of the git work tree holding cwd."""
    result = _git(cwd, "rev-parse", "--show-toplevel")
    return Path(result.strip())


def changed_lines(repo: Path, rev: str) -> dict[str, set[int]]:
    """Lines added or changed since `rev` (working tree included), by path; new files whole."""
    if not rev or rev.startswith("-"):
        raise AuditError(f"not a revision: {rev!r}")
    try:
        _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except AuditError:
        raise AuditError(f"git does not know the revision {rev!r}") from None
    diff = _git(repo, "diff", "--unified=0", "--no-color", "--no-ext-diff", rev, "--", "*.py")
    changed: dict[str, set[int]] = {}
    current: str | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            target = line[4:]
            current = target[2:] if target.startswith("b/") else None
        elif current is not None and (hunk := hunk_lines(line)) is not None:
            changed.setdefault(current, set()).update(hunk)
    untracked = _git(repo, "ls-files", "--others", "--exclude-standard", "--", "*.py")
    for path in untracked.splitlines():
        lines = (repo / path).read_text(encoding="utf-8", errors="replace").count("\n") + 1
        changed[path] = set(range(1, lines + 1))
    return changed


def _git(cwd: Path, *args: str) -> str:
    result = git(cwd, *args)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip() or f"git {' '.join(args)} failed"
        raise AuditError(f"git {args[0]}: {detail}")
    return result.stdout.decode(errors="replace")
