"""unbounded-query: collection reads without a LIMIT, and one query per loop iteration.

Three shapes, each something a reviewer looks for:
- a SELECT (SQLAlchemy `select()`, or SQL text) whose rows are read as a collection, with no
  `.limit()` / LIMIT anywhere in the statement's making (names assigned in the function are
  followed); single-row reads (`.one()`, `.first()`, `.scalar()`) and aggregates are bounded;
- a read (`session.get/execute/scalars`) inside a loop body: N+1, as many queries as items;
- a lazy relationship collection (`Mapped[list[...]] = relationship(...)`) read through an
  object of a known model type: every related row, one query per object.
"""

import ast
import re
from collections.abc import Iterable

from drill.audit.findings import Module, last_name, parents
from drill.checklist import Item

CHECK = "unbounded-query"
READS = frozenset({"execute", "scalars"})
SINGLE_ROW = frozenset(
    {"one", "one_or_none", "first", "scalar", "scalar_one", "scalar_one_or_none", "fetchone"}
)
LOOP_READS = frozenset({"get", "execute", "scalars", "scalar", "query"})
BOUNDS = frozenset({"limit", "slice", "fetch"})
WRITES = frozenset({"insert", "update", "delete"})
_SQL_SELECT = re.compile(r"\bselect\b.+\bfrom\b", re.IGNORECASE | re.DOTALL)
_SQL_LIMIT = re.compile(r"\b(limit|fetch\s+first)\b", re.IGNORECASE)
_SQL_AGGREGATE = re.compile(r"^\s*select\s+(count|sum|min|max|avg)\s*\(", re.IGNORECASE)

Relationships = dict[str, dict[str, str]]
"""Model class name -> {collection attribute -> related class name}."""


def relationships(modules: Iterable[Module]) -> Relationships:
    """Every `name: Mapped[list["Cls"]] = relationship(...)` of the audited tree, by model."""
    found: Relationships = {}
    for module in modules:
        for cls in ast.walk(module.tree):
            if not isinstance(cls, ast.ClassDef):
                continue
            for stmt in cls.body:
                if not (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(stmt.value, ast.Call)
                    and last_name(stmt.value.func) == "relationship"
                ):
                    continue
                related = _list_element(stmt.annotation)
                if related is not None:
                    found.setdefault(cls.name, {})[stmt.target.id] = related
    return found


def _list_element(annotation: ast.AST) -> str | None:
    """`Order` for Mapped[list["Order"]] or Mapped[list[Order]], else None."""
    if not (isinstance(annotation, ast.Subscript) and last_name(annotation.value) == "Mapped"):
        return None
    inner = annotation.slice
    if not (isinstance(inner, ast.Subscript) and last_name(inner.value) in {"list", "List"}):
        return None
    element = inner.slice
    if isinstance(element, ast.Constant) and isinstance(element.value, str):
        return element.value
    return last_name(element)


def check(module: Module, models: Relationships) -> None:
    """Report unbounded reads in the module."""
    up = parents(module.tree)
    for function in ast.walk(module.tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            _check_function(module, function, up, models)


def _assignments(function: ast.AST) -> dict[str, list[ast.AST]]:
    found: dict[str, list[ast.AST]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(node.value)
        elif (
            isinstance(node, ast.AnnAssign | ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and node.value is not None
        ):
            found.setdefault(node.target.id, []).append(node.value)
    return found


def _making(expr: ast.AST, assigned: dict[str, list[ast.AST]]) -> list[ast.AST]:
    """The expression and, transitively, what the names in it were assigned in the function."""
    todo, seen, out = [expr], set[str](), list[ast.AST]()
    while todo:
        node = todo.pop()
        out.append(node)
        for name in ast.walk(node):
            if isinstance(name, ast.Name) and name.id not in seen and name.id in assigned:
                seen.add(name.id)
                todo.extend(assigned[name.id])
    return out


def _sql_text(node: ast.AST) -> str | None:
    """The literal text of a `text("...")` argument (f-string holes dropped)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    return None


def _statement_kind(making: list[ast.AST]) -> str | None:
    """ "bounded", "unbounded" or None (not a read we can judge) for a statement's making."""
    calls = [n for tree in making for n in ast.walk(tree) if isinstance(n, ast.Call)]
    names = {last_name(c.func) for c in calls}
    if names & WRITES:
        return None
    if names & BOUNDS:
        return "bounded"
    for call in calls:
        if last_name(call.func) == "text" and call.args:
            sql = _sql_text(call.args[0])
            if sql is None or not _SQL_SELECT.search(sql):
                return None
            if _SQL_LIMIT.search(sql) or _SQL_AGGREGATE.search(sql):
                return "bounded"
            return "unbounded"
    selects = [c for c in calls if last_name(c.func) == "select"]
    if not selects:
        return None
    # select(func.count()), select(func.sum(...)): one row, whatever the table holds.
    if all(
        c.args and all(isinstance(a, ast.Call) and _is_func_call(a) for a in c.args)
        for c in selects
    ):
        return "bounded"
    return "unbounded"


def _is_func_call(call: ast.Call) -> bool:
    func = call.func
    while isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id == "func":
            return True
        func = func.value
    return False


def _single_row(call: ast.Call, up: dict[ast.AST, ast.AST]) -> bool:
    node: ast.AST = call
    while isinstance(parent := up.get(node), ast.Attribute | ast.Call):
        if isinstance(parent, ast.Attribute) and parent.attr in SINGLE_ROW:
            return True
        node = parent
    return False


def _in_loop_body(node: ast.AST, up: dict[ast.AST, ast.AST]) -> bool:
    child, parent = node, up.get(node)
    while parent is not None and not isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef):
        if isinstance(parent, ast.For | ast.AsyncFor) and child is not parent.iter:
            return True
        if isinstance(parent, ast.While):
            return True
        if isinstance(parent, ast.comprehension) and child is not parent.iter:
            return True
        if isinstance(parent, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            generators = parent.generators
            if child not in generators and child is not generators[0].iter:
                return True
        child, parent = parent, up.get(parent)
    return False


def _receiver_is_db(call: ast.Call) -> bool:
    if not isinstance(call.func, ast.Attribute):
        return False
    receiver = (last_name(call.func.value) or "").lower()
    return "session" in receiver or receiver in {"conn", "connection", "db"}


def _known_types(
    function: ast.FunctionDef | ast.AsyncFunctionDef, models: Relationships
) -> dict[str, str]:
    types: dict[str, str] = {}
    for arg in [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]:
        name = _annotation_class(arg.annotation)
        if name in models:
            types[arg.arg] = name
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Call)
            and last_name(node.value.func) == "get"
            and _receiver_is_db(node.value)
            and node.value.args
        ):
            model = last_name(node.value.args[0])
            if model in models:
                types[node.targets[0].id] = model
    return types


def _annotation_class(annotation: ast.AST | None) -> str | None:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value
    if isinstance(annotation, ast.Name | ast.Attribute):
        return last_name(annotation)
    return None


def _check_function(
    module: Module,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    up: dict[ast.AST, ast.AST],
    models: Relationships,
) -> None:
    assigned = _assignments(function)
    types = _known_types(function, models)
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method in LOOP_READS and _receiver_is_db(node) and _in_loop_body(node, up):
                kind = _statement_kind(_making(node.args[0], assigned)) if node.args else None
                if method in {"get", "query"} or kind is not None:
                    module.report(
                        node,
                        Item.UNBOUNDED_QUERY,
                        f"session.{method}() inside a loop: one query per item (N+1); "
                        "read them all in one bounded query",
                        CHECK,
                    )
                    continue
            if (
                method in READS
                and node.args
                and not _single_row(node, up)
                and _statement_kind(_making(node.args[0], assigned)) == "unbounded"
            ):
                module.report(
                    node,
                    Item.UNBOUNDED_QUERY,
                    "collection query without LIMIT: reads every matching row",
                    CHECK,
                )
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in types
            and node.attr in models[types[node.value.id]]
            and isinstance(node.ctx, ast.Load)
        ):
            model = types[node.value.id]
            module.report(
                node,
                Item.UNBOUNDED_QUERY,
                f"{node.value.id}.{node.attr} loads every {models[model][node.attr]} of the "
                f"{model} (lazy relationship: no LIMIT, one query per {model})",
                CHECK,
            )
