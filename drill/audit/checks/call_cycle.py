"""call-cycle: the services' call graph, read from the code, must have no cycle.

Edges come from what the code declares: a `CALLS = {"service-a": "service-b", ...}` topology,
and a service's settings naming another service's URL (`catalog_url` in services/orders/
settings.py: orders calls catalog). A cycle is reported on each of its edges, so a change that
adds the closing edge is reported on the line it added.
"""

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from drill.audit.findings import Module
from drill.checklist import Item

CHECK = "call-cycle"


@dataclass(frozen=True)
class Edge:
    """`caller` calls `callee`, as declared at module:line."""

    caller: str
    callee: str
    module: Module
    line: int


def _service_of(module: Module) -> str | None:
    parts = module.rel.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "services" else None


def _topology_edges(module: Module) -> list[Edge]:
    edges = []
    for node in module.tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if not (isinstance(target, ast.Name) and "CALLS" in target.id):
            continue
        if not isinstance(value, ast.Dict):
            continue
        for key, callees in zip(value.keys, value.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                continue
            items = (
                callees.elts if isinstance(callees, ast.List | ast.Tuple | ast.Set) else [callees]
            )
            for callee in items:
                if isinstance(callee, ast.Constant) and isinstance(callee.value, str):
                    edges.append(Edge(key.value, callee.value, module, key.lineno))
    return edges


def _settings_edges(module: Module, services: set[str]) -> list[Edge]:
    caller = _service_of(module)
    if caller is None or not module.rel.endswith("/settings.py"):
        return []
    edges = []
    for cls in ast.walk(module.tree):
        if not isinstance(cls, ast.ClassDef):
            continue
        for stmt in cls.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                name = stmt.target.id
                if not name.endswith("_url"):
                    continue
                callee = name.removesuffix("_url")
                for candidate in (callee, callee.replace("_", "-")):
                    if candidate in services and candidate != caller:
                        edges.append(Edge(caller, candidate, module, stmt.lineno))
    return edges


def check(modules: Iterable[Module]) -> None:
    """Report every declared call that lies on a cycle of the call graph."""
    modules = list(modules)
    topology = [edge for module in modules for edge in _topology_edges(module)]
    services = {s for m in modules if (s := _service_of(m))} - {"kit"}
    services |= {e.caller for e in topology} | {e.callee for e in topology}
    edges = topology + [e for m in modules for e in _settings_edges(m, services)]
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.caller, set()).add(edge.callee)
    for edge in edges:
        path = _path(graph, edge.callee, edge.caller)
        if path is not None:
            loop = " -> ".join([edge.caller, *path])
            edge.module.report(
                edge.line,
                Item.CALL_CYCLE,
                f"{edge.caller} calls {edge.callee}, and the calls lead back: {loop}",
                CHECK,
            )


def _path(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A call path from start to goal (breadth first), or None."""
    frontier, came_from = [start], {start: ""}
    while frontier:
        node = frontier.pop(0)
        if node == goal:
            path = [node]
            while came_from[path[-1]]:
                path.append(came_from[path[-1]])
            return list(reversed(path))
        for nxt in sorted(graph.get(node, ())):
            if nxt not in came_from:
                came_from[nxt] = node
                frontier.append(nxt)
    return None
