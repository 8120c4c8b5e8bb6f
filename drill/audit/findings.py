"""What a check reports, and the parsed module every check reads."""

import ast
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from drill.checklist import Item

# `# audit: allow[unbounded-query] the reconciliation job reads every account by design`
# on the reported line accepts that finding: a reviewed exception, with its reason beside it.
_ALLOW = re.compile(r"#\s*audit:\s*allow\[(?P<items>[a-z, -]+)\]\s*(?P<reason>\S.*)?$")


@dataclass(frozen=True, order=True)
class Finding:
    """One checklist item a line of code breaks."""

    path: str  # relative to the audit root, with forward slashes
    line: int
    item: Item
    message: str
    check: str  # which check said so: "float-money", "ruff:S608", ...

    def as_json(self) -> dict[str, object]:
        """The finding as `drill audit --json` prints it."""
        return {
            "path": self.path,
            "line": self.line,
            "item": self.item.value,
            "message": self.message,
            "check": self.check,
        }


@dataclass
class Module:
    """One Python file of the audited tree, parsed once and shared by every check."""

    root: Path
    path: Path  # absolute
    source: str
    tree: ast.Module
    findings: list[Finding] = field(default_factory=list)

    @cached_property
    def rel(self) -> str:
        """The path relative to the audit root."""
        return self.path.relative_to(self.root).as_posix()

    @cached_property
    def lines(self) -> list[str]:
        """The source lines (index 0 is line 1)."""
        return self.source.splitlines()

    @cached_property
    def dotted(self) -> str | None:
        """The module's import name relative to the root (services.billing.ledger), if any."""
        parts = list(self.path.relative_to(self.root).with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts) if parts else None

    def report(self, node: ast.AST | int, item: Item, message: str, check: str) -> None:
        """Record a finding at the node's first line (or at a line number)."""
        line = node if isinstance(node, int) else getattr(node, "lineno", 1)
        self.findings.append(Finding(self.rel, line, item, message, check))

    def allows(self, line: int, item: Item) -> bool:
        """Whether the line, or a comment line right above it, carries a reasoned
        `# audit: allow[item] reason` marker."""
        candidates = [line]
        if line >= 2 and self.lines[line - 2].lstrip().startswith("#"):
            candidates.append(line - 1)
        for number in candidates:
            if not 1 <= number <= len(self.lines):
                continue
            match = _ALLOW.search(self.lines[number - 1])
            if match is None or not match.group("reason"):
                continue
            if item.value in {part.strip() for part in match.group("items").split(",")}:
                return True
        return False


def dotted_name(node: ast.AST) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def last_name(node: ast.AST) -> str | None:
    """The final identifier of a Name/Attribute/Call chain: `b` for `a.b`, `f` for `x.f(...)`."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Each node's parent."""
    found: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            found[child] = node
    return found
