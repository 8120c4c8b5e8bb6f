"""A trace as an indented tree of text lines: what `drill traces` prints.

Each span is one line: service, what it did (route, URL or SQL statement), kind, HTTP status and
duration, indented under its parent, children in the order they started. Consecutive siblings
that did the same thing (same service, kind and name, and the same shape below them) are shown
once with their count (`x 12`), unless `full` asks for every span.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from drill.traces.spans import Span

STATEMENT_CHARS = 100
# A long select list says less than what follows it (FROM, WHERE): shown as "SELECT … FROM".
_SELECT_LIST = re.compile(r"^SELECT\s+(?P<columns>.+?)\s+FROM\s", re.IGNORECASE)
LONG_SELECT_LIST = 60
INDENT = "  "


@dataclass
class Node:
    """A span and the spans whose parent it is."""

    span: Span
    children: list["Node"] = field(default_factory=list)
    orphan: bool = False  # its parent span is not in the trace (not received, or another trace)


def build(spans: Sequence[Span]) -> list[Node]:
    """The trace's roots (spans without a parent, or whose parent is missing), as trees."""
    nodes = {span.span_id: Node(span) for span in spans}
    roots: list[Node] = []
    for node in nodes.values():
        parent = node.span.parent_span_id
        if parent is not None and parent in nodes and parent != node.span.span_id:
            nodes[parent].children.append(node)
        else:
            node.orphan = parent is not None
            roots.append(node)
    for node in nodes.values():
        node.children.sort(key=lambda child: (child.span.start_ns, child.span.seq))
    roots.sort(key=lambda root: (root.orphan, root.span.start_ns))
    return roots


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _attribute(span: Span, *names: str) -> str | None:
    for name in names:
        value = span.attributes.get(name)
        if value is not None and value != "":
            return str(value)
    return None


def _common_prefix(texts: Sequence[str]) -> str:
    """The characters every text starts with (URLs that differ in a path parameter)."""
    first, last = min(texts), max(texts)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def _what(spans: Sequence[Span]) -> str:
    """What the span (or a group of alike spans) did, in a few words."""
    span = spans[0]
    statement = _attribute(span, "db.query.text", "db.statement")
    if statement is not None:
        return _one_line(_short_select(" ".join(statement.split())), STATEMENT_CHARS)
    url = _attribute(span, "url.full", "http.url")
    if span.kind == "client" and url is not None:
        urls = [_attribute(s, "url.full", "http.url") or "" for s in spans]
        common = _common_prefix(urls)
        shown = url if common == url else common + "…"
        return f"{span.name} {shown}"
    return span.name


def _short_select(statement: str) -> str:
    match = _SELECT_LIST.match(statement)
    if match is None or len(match["columns"]) <= LONG_SELECT_LIST:
        return statement
    # The first columns, cut at a comma: enough to tell two statements on one table apart.
    shown = match["columns"][:LONG_SELECT_LIST].rsplit(",", 1)[0]
    return f"SELECT {shown}, … FROM {statement[match.end() :]}"  # noqa: S608 - shown, never run


def _duration(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def _durations(low: float, high: float) -> str:
    if high >= 1000:
        return f"{low / 1000:.2f}-{high / 1000:.2f} s"
    return f"{low:.1f}-{high:.1f} ms"


def _describe(spans: Sequence[Span]) -> str:
    span = spans[0]
    parts = [f"{span.service:<10}", _what(spans), f"[{span.kind}]"]
    status = _attribute(span, "http.response.status_code", "http.status_code")
    if status is not None:
        parts.append(status)
    durations = [s.duration_ms for s in spans]
    if len(spans) > 1:
        parts.append(f"x {len(spans)}")
        parts.append(f"{_durations(min(durations), max(durations))} each")
    else:
        parts.append(_duration(durations[0]))
    errors = [s for s in spans if s.status == "error"]
    if errors:
        message = errors[0].status_message
        count = f"{len(errors)} " if len(spans) > 1 else ""
        parts.append(f"{count}ERROR" + (f": {_one_line(message, 80)}" if message else ""))
    return "  ".join(parts)


def _shape(node: Node) -> tuple[object, ...]:
    span = node.span
    statement = _attribute(span, "db.query.text", "db.statement")
    return (
        span.service,
        span.kind,
        span.name,
        statement,
        tuple(_shape(child) for child in node.children),
    )


def _groups(nodes: Sequence[Node], full: bool) -> list[list[Node]]:
    groups: list[list[Node]] = []
    for node in nodes:
        if not full and groups and _shape(groups[-1][0]) == _shape(node):
            groups[-1].append(node)
        else:
            groups.append([node])
    return groups


def _render(nodes: Sequence[Node], depth: int, full: bool, lines: list[str]) -> None:
    for group in _groups(nodes, full):
        orphan = " (parent span not received)" if group[0].orphan else ""
        lines.append(INDENT * depth + _describe([n.span for n in group]) + orphan)
        children = [child for node in group for child in node.children]
        _render(children, depth + 1, full, lines)


def header(spans: Sequence[Span]) -> str:
    """One line about the whole trace: when, its id, its size, its services."""
    start = min(span.start_ns for span in spans)
    end = max(span.end_ns for span in spans)
    when = datetime.fromtimestamp(start / 1e9).strftime("%H:%M:%S")
    services = sorted({span.service for span in spans})
    count = f"{len(spans)} span{'s' if len(spans) != 1 else ''}"
    return (
        f"{when}  trace {spans[0].trace_id}  {count}  {_duration((end - start) / 1e6)}  "
        f"({', '.join(services)})"
    )


def render(spans: Sequence[Span], full: bool = False) -> list[str]:
    """The trace as lines: a header, then its spans as a tree, indented below it."""
    if not spans:
        return []
    lines = [header(spans)]
    _render(build(spans), 1, full, lines)
    return lines
