"""unlogged-error-path: an except block that swallows a failure, or logs it without fields().

The kit's JSON formatter adds trace_id and span_id to every log line, so a logger call with
`extra=fields("error_code", ...)` is a structured line that carries the trace. An error path is
accepted when it re-raises (the kit's handlers log and count what reaches them), logs such a
line, or hands the bound exception on (to a response, a report). It is reported when it logs
without fields(), prints, or catches broadly (Exception, I/O errors) and does none of those.
Narrow exceptions used for control flow (ValueError, KeyError, IntegrityError) are not error
paths here; a reviewer still reads them.
"""

import ast

from drill.audit.findings import Module, last_name
from drill.checklist import Item

CHECK = "unlogged-error-path"
BROAD = frozenset({"Exception", "BaseException"})
# Failures of the outside world: the network, the database, a subprocess.
IO_FAILURES = frozenset(
    {
        "CalledProcessError",
        "ConnectError",
        "ConnectTimeout",
        "ConnectionError",
        "DBAPIError",
        "HTTPError",
        "HTTPStatusError",
        "IOError",
        "OSError",
        "OperationalError",
        "ReadTimeout",
        "RequestError",
        "SQLAlchemyError",
        "SubprocessError",
        "TimeoutError",
        "TimeoutException",
        "TransportError",
    }
)
LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
)


def _caught(handler: ast.ExceptHandler) -> set[str]:
    if handler.type is None:
        return {"BaseException"}
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return {name for t in types if (name := last_name(t))}


def _body_nodes(handler: ast.ExceptHandler) -> list[ast.AST]:
    """Every node of the handler's body, nested functions and classes left out."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = list(handler.body)
    while stack:
        node = stack.pop()
        found.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return found


def _is_log_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    receiver = last_name(node.func.value) or ""
    return node.func.attr in LOG_METHODS and "log" in receiver.lower()


def check(module: Module) -> None:
    """Report except blocks that lose a failure or log it without structure."""
    for handler in ast.walk(module.tree):
        if not isinstance(handler, ast.ExceptHandler):
            continue
        nodes = _body_nodes(handler)
        logs = [n for n in nodes if _is_log_call(n)]
        unstructured = [n for n in logs if isinstance(n, ast.Call) and not _has_extra(n)]
        if unstructured:
            module.report(
                unstructured[0],
                Item.UNLOGGED_ERROR_PATH,
                "error logged without extra=fields(error_code, ...): no error_code, no context",
                CHECK,
            )
            continue
        if any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
            for n in nodes
        ):
            module.report(
                handler,
                Item.UNLOGGED_ERROR_PATH,
                "error printed: not a JSON log line, no trace_id",
                CHECK,
            )
            continue
        caught = _caught(handler)
        if not caught & (BROAD | IO_FAILURES):
            continue
        reraises = any(isinstance(n, ast.Raise) for n in nodes)
        handed_on = handler.name is not None and any(
            isinstance(n, ast.Name) and n.id == handler.name for n in nodes
        )
        if not (reraises or logs or handed_on):
            module.report(
                handler,
                Item.UNLOGGED_ERROR_PATH,
                f"except {', '.join(sorted(caught))} swallows the failure: nothing logged, "
                "nothing raised",
                CHECK,
            )


def _has_extra(call: ast.Call) -> bool:
    return any(keyword.arg == "extra" for keyword in call.keywords)
