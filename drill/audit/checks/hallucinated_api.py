"""hallucinated-api: imports, and attributes of imported modules, that do not exist.

Resolved statically and safely: modules are found with importlib's PathFinder (which reads
directories, never runs a module), first in the audited tree (first-party code, as changed),
then on the interpreter's path (installed libraries); a module's names are read from its
source's AST (definitions, assignments, imports, `__all__`, star imports followed). Nothing is
imported. When a module's names cannot be known statically (a compiled extension, a module
`__getattr__` such as pydantic's lazy imports, a star import from one of those), the check says
nothing rather than guess. Attributes of objects (an instance's method, a call's keyword) are
a type checker's job: `make lint` runs mypy strict on the tree.
"""

import ast
import sys
from dataclasses import dataclass
from functools import cache
from importlib.machinery import EXTENSION_SUFFIXES, BuiltinImporter
from pathlib import Path

from drill.audit.findings import Module
from drill.checklist import Item

CHECK = "hallucinated-api"


@dataclass(frozen=True)
class Resolved:
    """A module found on disk: its source (None when compiled or built in) and whether a package."""

    name: str
    source: Path | None
    package_dirs: tuple[str, ...]


@cache
def _find(name: str, root: str) -> Resolved | None:
    """Find a module without importing it: the audited tree first, then sys.path.

    A plain walk of the directories, the way PathFinder looks (packages, modules, compiled
    extensions, namespace portions), but without its need for parent packages to be imported.
    """
    parts = name.split(".")
    if len(parts) == 1 and BuiltinImporter.find_spec(name) is not None:
        return Resolved(name, None, ())
    locations = [root, *(p for p in sys.path if p)]
    found: Resolved | None = None
    for depth, part in enumerate(parts):
        found = _find_in(".".join(parts[: depth + 1]), part, locations)
        if found is None:
            return None
        if depth < len(parts) - 1:
            if not found.package_dirs:
                return None
            locations = list(found.package_dirs)
    return found


def _find_in(name: str, part: str, locations: list[str]) -> Resolved | None:
    portions: list[str] = []
    for location in locations:
        base = Path(location)
        package = base / part
        if (package / "__init__.py").is_file():
            return Resolved(name, package / "__init__.py", (str(package),))
        if (base / f"{part}.py").is_file():
            return Resolved(name, base / f"{part}.py", ())
        for suffix in EXTENSION_SUFFIXES:
            if (base / f"{part}{suffix}").is_file():
                return Resolved(name, None, ())
        if package.is_dir() and _looks_like_package(package):
            portions.append(str(package))
    return Resolved(name, None, tuple(portions)) if portions else None


def _looks_like_package(folder: Path) -> bool:
    """A namespace portion holds Python (a folder of data files is not importable code)."""
    try:
        return any(
            child.suffix == ".py" or (child / "__init__.py").is_file() or child.is_dir()
            for child in folder.iterdir()
        )
    except OSError:  # audit: allow[unlogged-error-path] unreadable: not a package, said so
        return False


@cache
def _names(name: str, root: str) -> frozenset[str] | None:
    """The names a module defines at top level; None when they cannot be known statically."""
    found = _find(name, root)
    if found is None or found.source is None:
        return None
    try:
        tree = ast.parse(found.source.read_text(encoding="utf-8"))
        # audit: allow[unlogged-error-path] an unreadable module means "cannot tell", said so
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    names: set[str] = set()
    package = name if found.package_dirs else name.rpartition(".")[0]
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == "__getattr__":
                return None  # attributes made on demand: cannot be known without running it
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    source = _absolute(node, package)
                    exported = _exports(source, root) if source else None
                    if exported is None:
                        return None
                    names |= exported
                else:
                    names.add(alias.asname or alias.name)
    for anywhere in ast.walk(tree):
        if isinstance(anywhere, ast.Global):
            names |= set(anywhere.names)
        elif _writes_namespace(anywhere):
            return None  # names written at import time: not readable from the source
    return frozenset(names)


def _writes_namespace(node: ast.AST) -> bool:
    """globals()/vars() (updated, assigned into), enum.global_enum (re's flags), or
    sys.modules[__name__]: a module that writes names into itself while it is imported."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in {"globals", "vars"} and not node.args
    if isinstance(node, ast.Name | ast.Attribute):
        return (node.id if isinstance(node, ast.Name) else node.attr) == "global_enum"
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
        return node.value.attr == "modules" and getattr(node.slice, "id", None) == "__name__"
    return False


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements that run at import, descending into if/try/with blocks, not into defs."""
    out: list[ast.stmt] = []
    for stmt in body:
        out.append(stmt)
        if isinstance(stmt, ast.If | ast.With | ast.For | ast.While):
            out += _top_level(stmt.body) + _top_level(getattr(stmt, "orelse", []))
        elif isinstance(stmt, ast.Try):
            out += _top_level(stmt.body) + _top_level(stmt.orelse) + _top_level(stmt.finalbody)
            for handler in stmt.handlers:
                out += _top_level(handler.body)
    return out


def _exports(name: str, root: str) -> frozenset[str] | None:
    """What `from name import *` binds."""
    names = _names(name, root)
    if names is None:
        return None
    found = _find(name, root)
    assert found is not None and found.source is not None
    tree = ast.parse(found.source.read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            values = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
            return frozenset(v for v in values if isinstance(v, str))
    return frozenset(n for n in names if not n.startswith("_"))


def _absolute(node: ast.ImportFrom, package: str) -> str | None:
    if not node.level:
        return node.module
    base = package.split(".") if package else []
    if node.level - 1 > len(base):
        return None
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base) or None


def _has(module_name: str, attribute: str, root: str) -> bool | None:
    """Whether the module has the attribute (a name, or a submodule); None: cannot tell."""
    if _find(f"{module_name}.{attribute}", root) is not None:
        return True
    names = _names(module_name, root)
    return None if names is None else attribute in names


def _guarded(node: ast.AST, up: dict[ast.AST, ast.AST]) -> bool:
    """Inside `try: ... except ImportError` (an optional dependency): not a claim it exists."""
    parent = up.get(node)
    while parent is not None:
        if isinstance(parent, ast.Try):
            for handler in parent.handlers:
                names = {getattr(handler.type, "id", None), getattr(handler.type, "attr", None)}
                if names & {"ImportError", "ModuleNotFoundError", None}:
                    return True
        parent = up.get(parent)
    return False


def forget() -> None:
    """Drop what was learnt about modules: each audit reads the tree as it is now."""
    _find.cache_clear()
    _names.cache_clear()


def check(module: Module) -> None:
    """Report imports and module attributes that resolve to nothing."""
    root = str(module.root)
    up = {child: node for node in ast.walk(module.tree) for child in ast.iter_child_nodes(node)}
    package = module.dotted if module.path.name == "__init__.py" else None
    package = package or (module.dotted or "").rpartition(".")[0]
    bound: dict[str, str] = {}  # local name -> module it is bound to
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import) and not _guarded(node, up):
            for alias in node.names:
                if _find(alias.name, root) is None:
                    module.report(node, Item.HALLUCINATED_API, f"no module {alias.name}", CHECK)
                elif alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom) and not _guarded(node, up):
            source = _absolute(node, package)
            if source is None:
                continue
            if _find(source, root) is None:
                module.report(node, Item.HALLUCINATED_API, f"no module {source}", CHECK)
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                if _find(f"{source}.{alias.name}", root) is not None:
                    bound[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif _has(source, alias.name, root) is False:
                    module.report(
                        node,
                        Item.HALLUCINATED_API,
                        f"{source} has no {alias.name}",
                        CHECK,
                    )
    rebound = {
        n.id
        for n in ast.walk(module.tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    } | {a.arg for a in ast.walk(module.tree) if isinstance(a, ast.arg)}
    reported: set[tuple[int, str]] = set()
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Attribute) or not isinstance(node.ctx, ast.Load):
            continue
        chain: list[str] = []
        base: ast.AST = node
        while isinstance(base, ast.Attribute):
            chain.append(base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in bound or base.id in rebound:
            continue
        if isinstance(up.get(node), ast.Attribute):
            continue  # checked from the outermost attribute of the chain
        current = bound[base.id]
        for attribute in reversed(chain):
            if _find(f"{current}.{attribute}", root) is not None:
                current = f"{current}.{attribute}"
                continue
            if _has(current, attribute, root) is False and (node.lineno, attribute) not in reported:
                reported.add((node.lineno, attribute))
                module.report(
                    node, Item.HALLUCINATED_API, f"{current} has no attribute {attribute}", CHECK
                )
            break
