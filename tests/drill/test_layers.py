"""The drill package's dependencies run one way: the command line on top; the conductor above the
review drills; the review drills and the audit beside each other, each unaware of the other and
of the conductor; the lab, the graders and the shared modules (drill/*.py) below them all."""

import ast
from pathlib import Path

import pytest

DRILL = Path(__file__).resolve().parents[2] / "drill"

# What each part of the package may not import (prefixes of module names).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "drill.audit": ("drill.cli", "drill.conductor", "drill.review"),
    "drill.review": ("drill.cli", "drill.conductor", "drill.audit"),
    "drill.conductor": ("drill.cli", "drill.audit"),
    "drill.scenarios": ("drill.cli", "drill.conductor", "drill.review", "drill.audit"),
    "drill.lab": ("drill.cli", "drill.conductor", "drill.review", "drill.audit", "drill.scenarios"),
    # The shared modules directly in drill/ (drill.cli and drill.__main__ excepted, below).
    "drill.": ("drill.cli", "drill.conductor", "drill.review", "drill.audit", "drill.scenarios"),
}


def _module(path: Path) -> str:
    parts = path.relative_to(DRILL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _part(module: str) -> str:
    for part in FORBIDDEN:
        if part != "drill." and (module == part or module.startswith(part + ".")):
            return part
    return "drill."


@pytest.mark.parametrize(
    "path", sorted(DRILL.rglob("*.py")), ids=lambda p: str(p.relative_to(DRILL))
)
def test_imports_point_down(path: Path) -> None:
    module = _module(path)
    if module in {"drill", "drill.cli", "drill.__main__"}:
        return
    forbidden = FORBIDDEN[_part(module)]
    wrong = sorted(
        name
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )
    assert not wrong, f"{module} imports {wrong}, against the package's direction"


@pytest.mark.parametrize(
    "path",
    sorted([*(DRILL.parent / "services").rglob("*.py"), *(DRILL.parent / "loadgen").glob("*.py")]),
    ids=lambda p: str(p.relative_to(DRILL.parent)),
)
def test_the_services_and_the_load_never_import_the_lab_tooling(path: Path) -> None:
    """The service image carries services/ and loadgen/ only: drill/ holds the graders and the
    answer keys, which no container a trainee can exec into may hold."""
    wrong = sorted(name for name in _imports(path) if name == "drill" or name.startswith("drill."))
    assert not wrong, f"{path.name} imports {wrong}"
