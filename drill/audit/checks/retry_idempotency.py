"""retry-without-idempotency: a retried write must carry an idempotency key fixed per intent.

Retry scopes: functions decorated with a retry decorator (tenacity `@retry`, backoff,
stamina), and `for attempt in Retrying(...)` / `async for ... in AsyncRetrying(...)` blocks.
Inside one, a write (POST/PATCH, or `request()` with a method not known to be safe) is reported
unless it sends an `Idempotency-Key` header or a `request_id`/`idempotency_key` in its JSON
body that is not minted afresh inside the retried code (a new key per attempt is no key), or
unless the retry only fires on errors raised before anything was sent (ConnectError,
ConnectTimeout, PoolTimeout): then the server never saw the first attempt.
"""

import ast

from drill.audit.findings import Module, last_name
from drill.checklist import Item

CHECK = "retry-without-idempotency"
RETRY_DECORATORS = frozenset({"retry", "on_exception", "retry_async", "retry_context"})
RETRY_LOOPS = frozenset({"Retrying", "AsyncRetrying"})
PRE_SEND = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout"})
WRITE_METHODS = frozenset({"post", "patch"})
SAFE_VERBS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
KEY_FIELDS = frozenset({"request_id", "idempotency_key", "idempotency-key"})
FRESH_KEYS = frozenset({"uuid4", "uuid1", "token_hex", "token_urlsafe", "urandom", "time_ns"})


def _module_constants(module: Module) -> dict[str, ast.AST]:
    found: dict[str, ast.AST] = {}
    for node in module.tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value
    return found


def _exception_names(node: ast.AST | None, constants: dict[str, ast.AST]) -> set[str] | None:
    """The exception classes a retry predicate fires on; None when it cannot be told."""
    if node is None:
        return None
    if isinstance(node, ast.Call) and last_name(node.func) == "retry_if_exception_type":
        return _exception_names(node.args[0], constants) if node.args else {"Exception"}
    if isinstance(node, ast.Tuple | ast.List):
        names: set[str] = set()
        for element in node.elts:
            inner = _exception_names(element, constants)
            if inner is None:
                return None
            names |= inner
        return names
    if isinstance(node, ast.Name) and node.id in constants:
        return _exception_names(constants[node.id], constants)
    name = last_name(node)
    return {name} if name and name[:1].isupper() else None


def _retry_scopes(module: Module) -> list[tuple[ast.AST, list[ast.stmt], ast.AST | None]]:
    """(where the retry is declared, the retried statements, its predicate expression)."""
    scopes: list[tuple[ast.AST, list[ast.stmt], ast.AST | None]] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                if last_name(decorator) in RETRY_DECORATORS:
                    predicate = _keyword(decorator, "retry")
                    if last_name(decorator) == "on_exception" and isinstance(decorator, ast.Call):
                        predicate = decorator.args[1] if len(decorator.args) > 1 else None
                    scopes.append((predicate or decorator, node.body, predicate))
        elif (
            isinstance(node, ast.For | ast.AsyncFor)
            and isinstance(node.iter, ast.Call)
            and last_name(node.iter.func) in RETRY_LOOPS
        ):
            predicate = _keyword(node.iter, "retry")
            scopes.append((predicate or node.iter, node.body, predicate))
    return scopes


def _keyword(node: ast.AST, name: str) -> ast.AST | None:
    if isinstance(node, ast.Call):
        for keyword in node.keywords:
            if keyword.arg == name:
                return keyword.value
    return None


def _is_write(call: ast.Call) -> bool:
    method = last_name(call.func)
    if method in WRITE_METHODS:
        return True
    if method in {"request", "stream"} and call.args:
        verb = call.args[0]
        if isinstance(verb, ast.Constant) and isinstance(verb.value, str):
            return verb.value.upper() not in SAFE_VERBS
        return True  # a method chosen at run time may be a POST
    return False


def _fresh_names(statements: list[ast.stmt]) -> set[str]:
    """Names assigned a freshly minted key inside the retried code."""
    fresh: set[str] = set()
    for stmt in statements:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign) and _mints_key(node.value):
                fresh |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return fresh


def _mints_key(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and last_name(n.func) in FRESH_KEYS for n in ast.walk(node))


def _carries_key(call: ast.Call, fresh: set[str]) -> bool:
    for keyword in call.keywords:
        if keyword.arg in {"headers", "json", "data"} and isinstance(keyword.value, ast.Dict):
            for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    continue
                if key.value.lower() in KEY_FIELDS:
                    reminted = _mints_key(value) or (
                        isinstance(value, ast.Name) and value.id in fresh
                    )
                    return not reminted
    return False


def check(module: Module) -> None:
    """Report retried writes that carry no stable idempotency key."""
    constants = _module_constants(module)
    for where, statements, predicate in _retry_scopes(module):
        fires_on = _exception_names(predicate, constants)
        if fires_on is not None and fires_on <= PRE_SEND:
            continue
        fresh = _fresh_names(statements)
        for stmt in statements:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call) and _is_write(node) and not _carries_key(node, fresh):
                    on = ", ".join(sorted(fires_on)) if fires_on else "any exception"
                    module.report(
                        where,
                        Item.RETRY_WITHOUT_IDEMPOTENCY,
                        f"retries on {on} around a write (line {node.lineno}) that carries no "
                        "stable idempotency key: a retry after a timeout can apply it twice",
                        CHECK,
                    )
                    break
            else:
                continue
            break
