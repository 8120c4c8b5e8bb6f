"""The `n-plus-one` grader: black-box over HTTP against the running orders service, plus a static
look at the orders code for floats on the money path.

Right answers come from the grader's own copy of the seed and the catalog's prices
(n_plus_one_data.py), never from the code a trainee edits. What each request cost comes from the
request itself: orders answers every request with a Server-Timing header counting the database
statements it ran, the rows they returned, and the catalog calls it made
(services/orders/request_work.py), so no other traffic, the drill's own load included, can blur a
count. Cold caches are reached honestly: the grader asks for users and old reseller orders that
the drill's load never asks for, so their prices are ones nobody has fetched.

Two checks act on the lab as an outage would: one pauses, then stops and restarts, the lab's
catalog; one holds the orders tables locked for a moment (on PostgreSQL). Latency is judged
within one run (large batches against cheap ones timed between them), with the drill's own load
paused, and every check that can make a stalled service stall longer first waits for it to
drain, so one fault is never blamed on the next check. docs/grading/n-plus-one.md says what each
check catches and what it cannot see.
"""

import ast
import asyncio
import contextlib
import functools
import json
import math
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from drill import lab as lab_processes
from drill.database import POSTGRESQL
from drill.grading import (
    Check,
    Measured,
    Reporter,
    Scorecard,
    describe_runs,
    load_runs,
    percentile,
    quiet_neighbours,
    require_ready,
    run_checks,
)
from drill.scenarios import Scenario
from drill.scenarios import n_plus_one_data as data
from drill.services import SERVICES

BATCH_ROUTE = "/v1/orders/batch"
# Checks of what the page already says (wrong or slow answers, everything stalling while big
# batches run): shown in full before the team's diagnosis is right.
ANSWERS = "batches and pages match the seeded orders and catalog prices"
NO_STALL = "cheap requests stay fast while large batches run"
P99_SLO_S = 0.200
BATCH_USERS = 100
# 120 samples: the nearest-rank P99 is the second slowest, so one hiccup is forgiven, two are not.
LOAD_REQUESTS = 120
LOAD_CONCURRENCY = 2
# On a busy machine a run stops after LOAD_BUDGET_S, with at least LOAD_MIN_REQUESTS batches (its
# P99 then the slowest): on an idle one, 120 batches take a few seconds.
LOAD_BUDGET_S = 8.0
LOAD_MIN_REQUESTS = 20
# The machine is shared: a neighbour's load can push one run's P99 far past the SLO. So each run
# also times a cheap request (a one-user batch of a user without orders: the route's fixed cost)
# between the large ones, and a run passes when its P99 is under the SLO, or, on a machine busy
# enough to miss it, when a 100-user batch's median costs at most SCALE_MAX cheap ones: the fix
# scales. A cost that grows with the users is the planted fault's (the poisoned code: hundreds of
# times); it is also graded by counts (statements, catalog calls), never by time alone.
SCALE_MAX = 15.0
# A run with no errors that missed is run again, once.
LOAD_ATTEMPTS = 2
# Ten times the SLO: a batch slower than this has failed, and waiting longer only costs time.
BATCH_TIMEOUT_S = 2.0
# What one request may take in the checks that are not about time: long enough for the poisoned
# code to answer (one blocking catalog call per order line), so its answers are graded too.
SLOW_TIMEOUT_S = 30.0
UNKNOWN_USER = 900_000
QUERY_SIZES = (1, 10, 100, data.MAX_BATCH_USERS)
PAGE_SIZES = (1, 10, data.MAX_PAGE)
# Users with orders in each statement-count batch, at most; the rest have none. Enough to show one
# query per order or per user, few enough that slow pricing cannot make the check slow.
QUERY_USERS_WITH_ORDERS = 10
# "Constant": a fix may split a long IN list once or twice, but not once per user or per order.
QUERY_GROWTH_ALLOWED = 2
# The OrdersQueryStorm alert's threshold: no request may run more statements than this.
MAX_STATEMENTS = 20
# Rows a request may read: twice what it shows (a user row, an order row and a row per line),
# and a few more; a request that reads a reseller's whole history reads hundreds more.
ROWS_FACTOR = 2
ROWS_SLACK = 10
# Cold users per cold batch, and how many prices only the grader asks for a cold page must hold.
COLD_BATCH_USERS = 40
COLD_PAGE_SKUS = 8
OUTAGE_USERS = 5
OUTAGE_PAGE = 10
OUTAGE_PAGE_SKUS = 3
# How long the catalog hangs: longer than any timeout a fix may fall back after without saying so,
# shorter than the 5 s the spec gives the orders service to wait for it.
HANG_S = 3.0
HANG_PROBES = 5
HANG_PROBE_LIMIT_S = 1.0
OUTAGE_STATUSES = (502, 503, 504)
# How long the grader holds the orders tables locked while a batch waits on them.
STUCK_DB_S = 1.5
STUCK_PROBES = 4
STUCK_PROBE_LIMIT_S = 1.0
ORDERS_TABLES = "users, orders, order_lines"
CACHE_USERS = 5
# The cheap requests probed while large batches run, and how slow the slowest may be.
PROBES = 20
PROBE_INTERVAL_S = 0.1
PROBE_TIMEOUT_S = 2.0
# A blocked loop holds a probe for seconds (the poisoned code: no answer in PROBE_TIMEOUT_S); a
# busy shared machine for a few hundred milliseconds.
PROBE_LIMIT_S = 1.0
STALL_WORKERS = 2
# How long a stalled service may take to finish its backlog before grading goes on.
DRAIN_TIMEOUT_S = 120.0
SETTLED_S = 0.2
ITEM_KEYS = ("sku", "quantity", "unit_price", "amount")
# Fields a client might add to ask for more than the contract shows; the service must ignore them
# (or refuse the request), never honour them.
GREEDY_FIELDS = (
    "limit",
    "per_page",
    "perPage",
    "page_size",
    "pageSize",
    "size",
    "count",
    "max",
    "max_orders",
    "per_user",
    "orders_per_user",
    "recent",
    "top",
    "take",
    "first",
    "n",
)
GREEDY_VALUE = 800
FLOAT_TYPES = frozenset({"Float", "REAL", "Double", "DOUBLE", "DOUBLE_PRECISION"})
# Durations are floats by nature, and the code names them so (catalog_timeout_s, PRICE_TTL_S).
DURATION_SUFFIXES = ("_s", "_ms", "_seconds")


Send = Callable[[], Coroutine[Any, Any, httpx.Response]]
Judge = Callable[[httpx.Response], str]
"""What is wrong with an answer ("" when it is right)."""

# ---- what one request cost, from its own response ------------------------------------------------


@dataclass(frozen=True)
class Work:
    """What one request cost, as its Server-Timing header says."""

    statements: int
    rows: int
    catalog_calls: int


def work_of(response: httpx.Response) -> Work | None:
    """The request's counts from `Server-Timing: db;count=N;rows=M, catalog;count=K`, or None."""
    metrics: dict[str, dict[str, str]] = {}
    for value in response.headers.get_list("server-timing"):
        for metric in value.split(","):
            name, *params = (part.strip() for part in metric.split(";"))
            metrics[name] = dict(param.split("=", 1) for param in params if "=" in param)
    try:
        return Work(
            int(metrics["db"]["count"]),
            int(metrics["db"]["rows"]),
            int(metrics["catalog"]["count"]),
        )
    except (KeyError, ValueError):
        return None


def calls_allowed(skus: int) -> int:
    """Catalog calls a request may make to price this many SKUs: one per batch of
    CATALOG_BATCH_MAX, and one more (a fix may split the list differently)."""
    return math.ceil(skus / data.CATALOG_BATCH_MAX) + 1


def rows_allowed(users: int, orders: Sequence[data.Order]) -> int:
    """Rows a request showing these users and orders may read."""
    shown = users + len(orders) + sum(len(o.lines) for o in orders)
    return ROWS_FACTOR * shown + ROWS_SLACK


# ---- the right answers ---------------------------------------------------------------------------


@functools.cache
def wire(order_id: int) -> dict[str, Any]:
    """The order as the API must show it (cached: the load check compares thousands)."""
    return data.wire_order(_orders_by_id()[order_id])


@functools.cache
def _orders_by_id() -> dict[int, data.Order]:
    return {order.id: order for order in data.shop().orders}


def expected_batch(user_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The batch answer: known users once each, in the order asked, with their recent orders."""
    shop = data.shop()
    known = set(shop.user_ids)
    return [
        {"user_id": u, "orders": [wire(o.id) for o in shop.orders_of(u)[: data.RECENT_ORDERS]]}
        for u in dict.fromkeys(user_ids)
        if u in known
    ]


def shown_orders(user_ids: Iterable[int]) -> list[data.Order]:
    """The orders a batch of these users shows."""
    shop = data.shop()
    return [o for u in dict.fromkeys(user_ids) for o in shop.orders_of(u)[: data.RECENT_ORDERS]]


def contract_orders(orders: Any) -> list[dict[str, Any]]:
    """The contract's fields of each order of a response (extra fields are no fault)."""
    if not isinstance(orders, list):
        return [{"not a list": orders}]
    return [
        {
            "order_id": order.get("order_id"),
            "total": order.get("total"),
            "items": [{key: item.get(key) for key in ITEM_KEYS} for item in order.get("items", [])],
        }
        if isinstance(order, dict)
        else {"not an object": order}
        for order in orders
    ]


def batch_differs(response: httpx.Response, user_ids: Sequence[int]) -> str:
    """What is wrong with a batch answer ("" when it is right)."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    try:
        users = response.json().get("users")
    except (ValueError, AttributeError):
        return "not a JSON object"
    if not isinstance(users, list):
        return "no users list"
    shown = [
        {"user_id": u.get("user_id"), "orders": contract_orders(u.get("orders"))}
        if isinstance(u, dict)
        else {}
        for u in users
    ]
    want = expected_batch(user_ids)
    if shown == want:
        return ""
    return _first_difference(shown, want)


def _first_difference(shown: list[dict[str, Any]], want: list[dict[str, Any]]) -> str:
    """The first user, order or line that differs, in a few words."""
    if [u.get("user_id") for u in shown] != [u["user_id"] for u in want]:
        return f"users shown {[u.get('user_id') for u in shown][:6]}..., not as asked"
    for got_user, want_user in zip(shown, want, strict=True):
        got_orders, want_orders = got_user["orders"], want_user["orders"]
        if len(got_orders) != len(want_orders):
            return f"user {want_user['user_id']}: {len(got_orders)} orders, not {len(want_orders)}"
        for got, expected in zip(got_orders, want_orders, strict=True):
            if got != expected:
                return f"user {want_user['user_id']}: " + _order_difference(got, expected)
    return "differs"


def _order_difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    if got.get("order_id") != want["order_id"]:
        return f"order {got.get('order_id')} shown where {want['order_id']} is due"
    for got_item, want_item in zip(got.get("items", []), want["items"], strict=False):
        if got_item != want_item:
            return (
                f"order {want['order_id']} line {json.dumps(got_item)}, not {json.dumps(want_item)}"
            )
    if got.get("total") != want["total"]:
        return f"order {want['order_id']} total {got.get('total')!r}, not {want['total']!r}"
    return f"order {want['order_id']}: {len(got.get('items', []))} lines, not {len(want['items'])}"


@dataclass(frozen=True)
class PageAsk:
    """One page request and what it must show: orders[start:start + limit] of the user."""

    user_id: int
    start: int
    limit: int

    @property
    def orders(self) -> list[data.Order]:
        return data.shop().orders_of(self.user_id)[self.start : self.start + self.limit]

    @property
    def cursor(self) -> str | None:
        """The cursor that starts the page there: the id of the order just before."""
        if self.start == 0:
            return None
        return str(data.shop().orders_of(self.user_id)[self.start - 1].id)

    @property
    def more(self) -> bool:
        """Whether older orders follow the page (a next_cursor is due)."""
        return len(data.shop().orders_of(self.user_id)) > self.start + self.limit


def page_differs(response: httpx.Response, ask: PageAsk) -> str:
    """What is wrong with a page answer ("" when it is right)."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    try:
        body = response.json()
        orders, next_cursor = body.get("orders"), body.get("next_cursor")
    except (ValueError, AttributeError):
        return "not a JSON object"
    got, want = contract_orders(orders), [wire(o.id) for o in ask.orders]
    if got != want:
        if len(got) != len(want):
            return f"{len(got)} orders, not {len(want)}"
        for got_order, want_order in zip(got, want, strict=True):
            if got_order != want_order:
                return _order_difference(got_order, want_order)
    if next_cursor is not None and not isinstance(next_cursor, str):
        return f"next_cursor {next_cursor!r} is not a string"
    if (next_cursor is not None) != ask.more:
        return (
            f"next_cursor {next_cursor!r} where {'more' if ask.more else 'no more'} orders follow"
        )
    return ""


def is_problem(response: httpx.Response) -> bool:
    """Whether the answer is RFC 9457 problem+json."""
    return str(response.headers.get("content-type", "")).startswith("application/problem+json")


def boundary_problem(response: httpx.Response) -> str:
    """What no answer to any input may be: a 5xx, or a refusal that queried first."""
    work = work_of(response)
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    if response.status_code == 422 and work is not None and work.statements:
        return f"422 after {work.statements} statements (validate before querying)"
    return ""


def refused(response: httpx.Response) -> str:
    """The input is refused: 422 problem+json."""
    if response.status_code == 422 and is_problem(response):
        return ""
    return f"HTTP {response.status_code}, not 422 problem+json"


def refused_or(judge: Judge) -> Judge:
    """Refused, or answered as `judge` says it must be."""
    return lambda response: "" if not refused(response) else judge(response)


def no_users(response: httpx.Response) -> str:
    """A batch answer showing nobody."""
    if response.status_code == 200 and response.json().get("users") == []:
        return ""
    return f"HTTP {response.status_code}, not 200 with no users"


def unknown_user(response: httpx.Response) -> str:
    """No such user: 404 (or 422) problem+json."""
    if response.status_code in (404, 422) and is_problem(response):
        return ""
    return f"HTTP {response.status_code}, not 404 problem+json"


# ---- the money path, statically ------------------------------------------------------------------


def float_uses(root: Path) -> list[str]:
    """Every place the orders code turns something into a float or declares a float field or
    column: `float(...)`, SQL float types, and float-typed fields of classes (models, schemas),
    save durations, which the code names as such (`*_s`). Annotations inside functions are not
    fields (a cache's expiry time is a float and no money)."""
    found: list[tuple[str, int, str]] = []
    for path in sorted((root / "services" / "orders").rglob("*.py")):
        where = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id == "float":
                    found.append((where, node.lineno, ast.unparse(node)))
            elif isinstance(node, ast.Name | ast.Attribute):
                name = node.id if isinstance(node, ast.Name) else node.attr
                if name in FLOAT_TYPES:
                    found.append((where, node.lineno, ast.unparse(node)))
            elif isinstance(node, ast.ClassDef):
                found += [(where, f.lineno, ast.unparse(f)) for f in _float_fields(node)]
    return [f"{where}:{line} {text}" for where, line, text in sorted(set(found))]


def _float_fields(cls: ast.ClassDef) -> list[ast.AnnAssign]:
    fields = []
    for statement in cls.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            named_float = any(
                isinstance(n, ast.Name) and n.id == "float" for n in ast.walk(statement.annotation)
            )
            duration = statement.target.id.lower().endswith(DURATION_SUFFIXES)
            if named_float and not duration:
                fields.append(statement)
    return fields


# ---- the lab -------------------------------------------------------------------------------------


class OrdersLab:
    """The orders service as a client sees it, and the catalog as the lab runs it."""

    def __init__(self, http: httpx.AsyncClient, orders_url: str, catalog_url: str) -> None:
        self.http = http
        self.orders_url = orders_url
        self.catalog_url = catalog_url

    async def batch(
        self, user_ids: Any, timeout: float = SLOW_TIMEOUT_S, extra: dict[str, Any] | None = None
    ) -> httpx.Response:
        """POST /v1/orders/batch (user_ids as given: the boundary checks send wrong types)."""
        return await self.http.post(
            f"{self.orders_url}{BATCH_ROUTE}",
            json={"user_ids": user_ids, **(extra or {})},
            timeout=timeout,
        )

    async def page(
        self,
        user_id: int | str,
        limit: int | str | None,
        cursor: str | None = None,
        timeout: float = SLOW_TIMEOUT_S,
        extra: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """GET /v1/users/{user_id}/orders."""
        params: dict[str, Any] = dict(extra or {})
        if limit is not None:
            params["limit"] = limit
        if cursor is not None:
            params["cursor"] = cursor
        return await self.http.get(
            f"{self.orders_url}/v1/users/{user_id}/orders", params=params, timeout=timeout
        )

    async def ask(self, ask: PageAsk, timeout: float = SLOW_TIMEOUT_S) -> httpx.Response:
        """The page a PageAsk describes."""
        return await self.page(ask.user_id, ask.limit, ask.cursor, timeout=timeout)

    async def healthz(self, timeout: float = PROBE_TIMEOUT_S) -> httpx.Response:
        return await self.http.get(f"{self.orders_url}/healthz", timeout=timeout)

    async def settle(self) -> float:
        """Wait until orders answers promptly again (a stalled event loop finishes its backlog);
        returns the seconds waited."""
        start = time.perf_counter()
        while time.perf_counter() - start < DRAIN_TIMEOUT_S:
            probe_start = time.perf_counter()
            try:
                await self.healthz()
                if time.perf_counter() - probe_start < SETTLED_S:
                    return time.perf_counter() - start
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        raise TimeoutError(f"orders still stalled after {DRAIN_TIMEOUT_S:.0f} s")

    async def catalog_back(self) -> None:
        """Wait until orders finds the catalog ready again (its readiness asks the catalog)."""
        deadline = time.perf_counter() + DRAIN_TIMEOUT_S
        while time.perf_counter() < deadline:
            try:
                ready = await self.http.get(f"{self.orders_url}/readyz", timeout=PROBE_TIMEOUT_S)
                if ready.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        raise TimeoutError("orders does not find the catalog ready again")


class CatalogSwitch:
    """Makes the lab's catalog hang (paused: connections are accepted, nothing is answered) or go
    down (stopped), then brings it back, as an outage would."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def available(self) -> str:
        """Why the catalog cannot be paused or stopped from here ("" when it can)."""
        if "catalog" not in lab_processes.read_state(self.root):
            return f"the catalog is not running in the lab of {self.root}"
        return ""

    def _docker(self) -> bool:
        return lab_processes.read_mode(self.root) == lab_processes.DOCKER

    def _signal(self, sig: signal.Signals) -> None:
        pid = lab_processes.read_state(self.root)["catalog"].pid
        # The lab starts each service as a session leader: its process group id is its pid.
        os.killpg(pid, sig)

    def _compose(self, verb: str) -> None:
        argv = lab_processes.Compose.from_state(self.root).argv
        subprocess.run([*argv, verb, "catalog"], check=True, capture_output=True, timeout=60)  # noqa: S603

    def hang(self) -> None:
        """Pause the catalog."""
        if self._docker():
            self._compose("pause")
        else:
            self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused catalog run again (harmless when it runs)."""
        if self._docker():
            self._compose("unpause")
        else:
            self._signal(signal.SIGCONT)

    def stop(self) -> None:
        running = lab_processes.read_state(self.root)
        lab_processes.stop(self.root, {"catalog": running["catalog"]})

    def start(self) -> None:
        lab_processes.start(self.root, ["catalog"], progress=lambda _line: None)


def hold_tables(url: str, locked: Callable[[], object]) -> None:
    """Lock the orders tables in the lab's own schema for STUCK_DB_S (every read waits), as a
    stuck query or a migration would; `locked` is called once they are held."""
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            conn.execute(text(f"LOCK TABLE {ORDERS_TABLES} IN ACCESS EXCLUSIVE MODE"))
            locked()
            time.sleep(STUCK_DB_S)
    finally:
        engine.dispose()


# ---- who the grader asks for ---------------------------------------------------------------------


class UserPool:
    """Users handed out in a fresh random order each run, so a price cache warmed by an earlier
    run (or an earlier check) does not decide a check. `reuse=False`: each user once per run."""

    def __init__(self, users: Iterable[int], rng: random.Random, reuse: bool = True) -> None:
        self.users = list(users)
        self.rng = rng
        self.reuse = reuse
        self._queue: list[int] = []
        self._dealt = False

    def take(self, count: int) -> list[int]:
        """`count` distinct users; starts over, reshuffled, when the pool runs out."""
        taken: list[int] = []
        while len(taken) < count:
            if not self._queue:
                if self._dealt and not self.reuse:
                    raise RuntimeError("the grader ran out of users only it asks for")
                self._queue = self.users[:]
                self.rng.shuffle(self._queue)
                self._dealt = True
            user = self._queue.pop()
            if user not in taken:
                taken.append(user)
        return taken


@dataclass
class ColdPages:
    """Pages of resellers' old orders whose prices nothing but the grader asks for; each order is
    shown at most once per run."""

    rng: random.Random
    used: dict[int, set[int]] = field(default_factory=dict)

    def reserve(self, ask: PageAsk) -> PageAsk:
        """Mark a page another check shows, so no cold page overlaps it."""
        self.used.setdefault(ask.user_id, set()).update(range(ask.start, ask.start + ask.limit))
        return ask

    def take(self, limit: int, min_cold: int) -> tuple[PageAsk, int]:
        """A page of `limit` old orders holding at least `min_cold` cold SKUs, and how many."""
        shop, cold = data.shop(), data.cold_reseller_skus()
        for _ in range(1_000):
            reseller = self.rng.choice(shop.resellers)
            orders = shop.orders_of(reseller)
            start = self.rng.randrange(data.WARM_RESELLER_DEPTH, len(orders) - limit)
            span = set(range(start, start + limit))
            if span & self.used.setdefault(reseller, set()):
                continue
            skus = len(data.skus_of(orders[start : start + limit]) & cold)
            if skus >= min_cold:
                self.used[reseller] |= span
                return PageAsk(reseller, start, limit), skus
        raise RuntimeError("no page of old orders left with enough cold prices")


# ---- the checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadRun:
    """One run of concurrent batches: every latency measured, the errors, and the cheap
    requests timed between them."""

    latencies: list[float]
    errors: int
    wall_s: float
    cheap: list[float]

    @property
    def complete(self) -> bool:
        """Whether enough batches were sent (a run stops early once two batches failed)."""
        return len(self.latencies) >= LOAD_MIN_REQUESTS and self.errors < 2

    @property
    def scale(self) -> float:
        """A large batch's median cost, in cheap requests."""
        return percentile(self.latencies, 50) / max(percentile(self.cheap, 50), 1e-6)

    @property
    def passed(self) -> bool:
        """No errors, and P99 under the SLO, or (a busy machine) a cost that scales."""
        if not self.complete or self.errors:
            return False
        return percentile(self.latencies, 99) < P99_SLO_S or self.scale <= SCALE_MAX

    @property
    def noise_sized(self) -> bool:
        """Missed without an error: worth one more run."""
        return not self.errors

    @property
    def summary(self) -> str:
        """What the run measured, in one phrase."""
        if not self.complete:
            return (
                f"stopped after {len(self.latencies)} batches, {self.errors} of them failed or "
                f"over {BATCH_TIMEOUT_S:g} s"
            )
        rate = len(self.latencies) / self.wall_s
        return (
            f"P99 {percentile(self.latencies, 99) * 1000:.0f} ms, "
            f"P50 {percentile(self.latencies, 50) * 1000:.0f} ms "
            f"({self.scale:.1f}x a one-user batch's {percentile(self.cheap, 50) * 1000:.0f} ms), "
            f"{self.errors} errors, {len(self.latencies)} batches, {rate:.0f} a second"
        )


@dataclass
class Answered:
    """A request the grader made, kept to be judged once the timing that depends on it is over."""

    ids: list[int]
    response: httpx.Response


class Grader:
    """Every check of the n-plus-one drill."""

    def __init__(
        self, root: Path, lab: OrdersLab, catalog: CatalogSwitch, rng: random.Random
    ) -> None:
        self.root = root
        self.lab = lab
        self.catalog = catalog
        self.shop = data.shop()
        self.buyers = UserPool(data.warm_buyers(), rng)
        self.idle = UserPool(self.shop.without_orders, rng)
        self.cold = UserPool([c.user_id for c in data.cold_users()], rng, reuse=False)
        self.cold_pages = ColdPages(rng)
        self.answered: list[Answered] = []

    def checks(self) -> list[tuple[str, Check]]:
        """The checks, in the order the scorecard lists them (and they run)."""
        slo = f"{P99_SLO_S * 1000:.0f} ms"
        return [
            (ANSWERS, self.answers),
            ("orders worth trillions keep every cent", self.large_money),
            ("money never passes through float in services/orders", self.no_float),
            ("inputs outside the contract are refused before any query", self.boundaries),
            ("cold prices: one catalog call per 500 SKUs, on both routes", self.cold_batching),
            ("DB statements per request constant, batch 1-500 users, page 1-50", self.statements),
            ("rows read per request follow what is shown, not the history", self.rows),
            ("a repeated request is priced from cache", self.cached),
            ("catalog hanging or down: honest errors, never a wrong price", self.outage),
            ("a stuck database query does not stall other requests", self.stuck_database),
            (f"P99 < {slo} for batches of {BATCH_USERS} users under load, answers right", self.p99),
            (NO_STALL, self.no_stall),
        ]

    # -- answers -----------------------------------------------------------------------------

    async def answers(self) -> Measured:
        reseller = self.shop.resellers[0]
        ids = [*self.buyers.take(5), reseller, *self.idle.take(1), UNKNOWN_USER]
        ids.append(ids[0])  # asked twice, shown once
        wrong = []
        if problem := batch_differs(await self.lab.batch(ids), ids):
            wrong.append(f"batch of {len(ids)} ids: {problem}")
        wrong += await self._follow_pages(reseller, 7, pages=2)
        last = self.cold_pages.reserve(PageAsk(reseller, len(self.shop.orders_of(reseller)) - 3, 7))
        if problem := page_differs(await self.lab.ask(last), last):
            wrong.append(f"last page of user {reseller}: {problem}")
        idle = PageAsk(self.idle.take(1)[0], 0, 5)
        if problem := page_differs(await self.lab.ask(idle), idle):
            wrong.append(f"user without orders: {problem}")
        unknown = await self.lab.page(UNKNOWN_USER, 5)
        if unknown.status_code != 404 or not is_problem(unknown):
            wrong.append(f"unknown user: HTTP {unknown.status_code}")
        return Measured(
            not wrong,
            "; ".join(wrong)
            or "batch, pages followed by cursor, last page, empty and unknown users all as seeded",
            "every order, line, unit price and total as seeded; unknown user 404 problem+json",
        )

    async def _follow_pages(self, user_id: int, limit: int, pages: int) -> list[str]:
        cursor = None
        for number in range(pages):
            ask = PageAsk(user_id, number * limit, limit)
            response = await self.lab.page(user_id, limit, cursor)
            if problem := page_differs(response, ask):
                return [f"page {number + 1} of user {user_id}: {problem}"]
            cursor = response.json().get("next_cursor")
        return []

    async def large_money(self) -> Measured:
        wholesale = self.shop.wholesale
        oldest = PageAsk(wholesale, len(self.shop.orders_of(wholesale)) - 1, 1)
        wrong = []
        if problem := batch_differs(await self.lab.batch([wholesale]), [wholesale]):
            wrong.append(f"batch: {problem}")
        if problem := page_differs(await self.lab.ask(oldest), oldest):
            wrong.append(f"page: {problem}")
        orders = self.shop.orders_of(wholesale)
        return Measured(
            not wrong,
            "; ".join(wrong)
            or f"{len(orders)} orders of {len(orders[0].lines)} lines, totals up to "
            f"{max(wire(o.id)['total'] for o in orders)}, exact on both routes",
            "every amount and total exact to the cent (Decimal arithmetic)",
        )

    async def no_float(self) -> Measured:
        uses = float_uses(self.root)
        shown = "; ".join(uses[:4]) + (f"; ... {len(uses) - 4} more" if len(uses) > 4 else "")
        return Measured(
            not uses,
            f"{len(uses)} float conversions or float fields in services/orders",
            "0: prices, amounts and totals stay Decimal (durations named *_s may be floats)",
            shown,
        )

    # -- trust boundaries ---------------------------------------------------------------------

    async def boundaries(self) -> Measured:
        reseller = self.shop.resellers[0]
        # A buyer with a dozen orders: where asking for more than a page shows old reseller
        # orders, whose prices the cold checks need uncached.
        buyer = max(data.warm_buyers(), key=lambda u: len(self.shop.orders_of(u)))
        unknown = list(range(UNKNOWN_USER, UNKNOWN_USER + data.MAX_BATCH_USERS + 1))
        greedy = dict.fromkeys(GREEDY_FIELDS, GREEDY_VALUE)
        page = self.lab.page

        def batch_of(ids: Any, **extra: Any) -> Send:
            return lambda: self.lab.batch(ids, extra=extra)

        def shows(ask: PageAsk) -> Judge:
            return lambda r: page_differs(r, ask)

        cases: list[tuple[str, Send, Judge]] = [
            (f"{len(unknown)} ids", batch_of(unknown), refused),
            ("no ids", batch_of([]), refused),
            ("ids not a list", batch_of(str(reseller)), refused),
            ('id "x"', batch_of(["x"]), refused),
            ("id 1.5", batch_of([1.5]), refused),
            ("id null", batch_of([None]), refused),
            ("id 10**30", batch_of([10**30]), refused_or(no_users)),
            ("id 2**31", batch_of([2**31]), refused_or(no_users)),
            ("id -1", batch_of([-1]), refused_or(no_users)),
            (f"{data.MAX_BATCH_USERS} unknown ids", batch_of(unknown[:-1]), no_users),
            (
                "a batch asking for 800 orders a user",
                batch_of([buyer], **greedy),
                refused_or(lambda r: batch_differs(r, [buyer])),
            ),
            ("limit 0", lambda: page(reseller, 0), refused),
            (f"limit {data.MAX_PAGE + 1}", lambda: page(reseller, data.MAX_PAGE + 1), refused),
            ("limit -1", lambda: page(reseller, -1), refused),
            ("limit 10**30", lambda: page(buyer, str(10**30)), refused),
            ('limit "x"', lambda: page(reseller, "x"), refused),
            (
                f"limit {data.MAX_PAGE}",
                lambda: page(reseller, data.MAX_PAGE),
                shows(PageAsk(reseller, 0, data.MAX_PAGE)),
            ),
            (
                "no limit",
                lambda: page(reseller, None),
                shows(PageAsk(reseller, 0, data.DEFAULT_PAGE)),
            ),
            ('cursor "x"', lambda: page(reseller, 5, "x"), refused),
            ("cursor 1.5", lambda: page(reseller, 5, "1.5"), refused),
            # Orders older than no order: refused, or an empty last page.
            ("cursor -1", lambda: page(buyer, 5, "-1"), refused_or(shows(PageAsk(buyer, 99, 5)))),
            ("cursor 0", lambda: page(buyer, 5, "0"), refused_or(shows(PageAsk(buyer, 99, 5)))),
            # Orders older than an id past every id: refused, or the first page.
            (
                "cursor 2**31",
                lambda: page(buyer, 5, str(2**31)),
                refused_or(shows(PageAsk(buyer, 0, 5))),
            ),
            (
                "cursor 10**30",
                lambda: page(buyer, 5, str(10**30)),
                refused_or(shows(PageAsk(buyer, 0, 5))),
            ),
            (
                "a page asking for 800 orders",
                lambda: page(buyer, 5, extra={k: GREEDY_VALUE for k in GREEDY_FIELDS[1:]}),
                refused_or(shows(PageAsk(buyer, 0, 5))),
            ),
            ('user "x"', lambda: page("x", 5), refused),
            ("user -1", lambda: page(-1, 5), unknown_user),
            ("user 0", lambda: page(0, 5), unknown_user),
            ("user 2**31", lambda: page(2**31, 5), unknown_user),
            ("user 10**30", lambda: page(10**30, 5), unknown_user),
        ]
        wrong = []
        for label, send, judge in cases:
            response = await send()
            if problem := boundary_problem(response) or judge(response):
                wrong.append(f"{label}: {problem}")
        return Measured(
            not wrong,
            "; ".join(wrong)
            or f"{len(cases)} inputs outside the contract, each refused or answered as the "
            "contract says",
            f"ids: 1..{data.MAX_BATCH_USERS} integers, else 422 problem+json with no statement "
            f"run; limit 1..{data.MAX_PAGE} (default {data.DEFAULT_PAGE}); cursor an order id; "
            "unknown or impossible users 404 (or 422); never a 5xx; extra fields never honoured",
        )

    # -- work per request ---------------------------------------------------------------------

    async def cold_batching(self) -> Measured:
        results: list[str] = []
        wrong: list[str] = []
        calls: dict[str, list[int]] = {"batch": [], "page": []}
        ids = self.cold.take(COLD_BATCH_USERS)
        cold_skus = set().union(*(c.cold_skus for c in data.cold_users() if c.user_id in ids))
        skus = len(data.skus_of(shown_orders(ids)))
        response = await self.lab.batch(ids)
        what = f"batch ({len(ids)} users, {skus} SKUs, {len(cold_skus)} cold)"
        self._judge_cold(what, response, skus, batch_differs(response, ids), results, wrong)
        calls["batch"] += [c for c in [self._calls(response)] if c is not None]
        for _ in range(2):
            if wrong:
                break  # the verdict is in (a fault that makes one call per SKU is slow to watch)
            ask, cold = self.cold_pages.take(data.MAX_PAGE, COLD_PAGE_SKUS)
            skus = len(data.skus_of(ask.orders))
            response = await self.lab.ask(ask)
            what = f"page ({ask.limit} old orders, {skus} SKUs, {cold} cold)"
            self._judge_cold(what, response, skus, page_differs(response, ask), results, wrong)
            calls["page"] += [c for c in [self._calls(response)] if c is not None]
        # Every price of these requests was one nobody else asks for; a run a minute earlier may
        # have asked for some of a page's (the cache may keep them that long), never for all of
        # two pages' and a batch's. So each route must have called the catalog.
        for route, made in calls.items():
            if made and not any(made):
                wrong.append(f"{route}: no catalog call for prices nobody had asked for")
        return Measured(
            not wrong,
            "; ".join(wrong or results),
            "requests that need prices nobody has asked for call the catalog (on each route), "
            f"at most once per {data.CATALOG_BATCH_MAX} SKUs (+1); answers right",
        )

    @staticmethod
    def _calls(response: httpx.Response) -> int | None:
        work = work_of(response)
        return None if work is None else work.catalog_calls

    def _judge_cold(
        self,
        what: str,
        response: httpx.Response,
        skus: int,
        problem: str,
        results: list[str],
        wrong: list[str],
    ) -> None:
        work = work_of(response)
        if problem:
            wrong.append(f"{what}: {problem}")
        elif work is None:
            wrong.append(f"{what}: no Server-Timing counts on the response")
        elif work.catalog_calls > calls_allowed(skus):
            wrong.append(f"{what}: {work.catalog_calls} catalog calls")
        else:
            results.append(f"{what}: {work.catalog_calls} catalog calls")

    async def statements(self) -> Measured:
        counts: dict[str, dict[int, int]] = {"batch": {}, "page": {}}
        wrong: list[str] = []
        for size in QUERY_SIZES:
            batch = counts["batch"]
            if batch and max(batch.values()) > min(batch.values()) + QUERY_GROWTH_ALLOWED:
                break  # the count grows already: larger batches only take longer to say so
            buyers = min(size, QUERY_USERS_WITH_ORDERS)
            ids = self.buyers.take(buyers) + self.idle.take(size - buyers)
            response = await self.lab.batch(ids)
            self._count(counts["batch"], size, response, batch_differs(response, ids), wrong)
        for limit in PAGE_SIZES:
            ask = PageAsk(self.shop.resellers[1], 0, limit)
            response = await self.lab.ask(ask)
            self._count(counts["page"], limit, response, page_differs(response, ask), wrong)
        for route, by_size in counts.items():
            if by_size and max(by_size.values()) > min(by_size.values()) + QUERY_GROWTH_ALLOWED:
                wrong.append(f"{route}: the count grows with the size")
            if by_size and max(by_size.values()) > MAX_STATEMENTS:
                wrong.append(f"{route}: over {MAX_STATEMENTS} statements")
        shown = "; ".join(
            f"{route}: " + ", ".join(f"{size}: {n}" for size, n in by_size.items())
            for route, by_size in counts.items()
        )
        return Measured(
            not wrong,
            f"statements per request by size ({shown})"
            + (f": {'; '.join(wrong)}" if wrong else ""),
            f"the same count (+{QUERY_GROWTH_ALLOWED} at most, {MAX_STATEMENTS} at most) for "
            f"batches of {', '.join(map(str, QUERY_SIZES))} users and pages of "
            f"{', '.join(map(str, PAGE_SIZES))} orders",
        )

    def _count(
        self,
        counts: dict[int, int],
        size: int,
        response: httpx.Response,
        problem: str,
        wrong: list[str],
    ) -> None:
        work = work_of(response)
        if problem:
            wrong.append(f"{size}: {problem}")
        elif work is None:
            wrong.append(f"{size}: no Server-Timing counts on the response")
        else:
            counts[size] = work.statements

    async def rows(self) -> Measured:
        resellers = list(self.shop.resellers)
        oldest = len(self.shop.orders_of(resellers[2])) - 5
        asks: list[tuple[str, list[int] | PageAsk]] = [
            (f"batch of the {len(resellers)} resellers", resellers),
            ("batch of resellers and buyers", [*resellers, *self.buyers.take(3)]),
            ("reseller's newest page of 5", PageAsk(resellers[0], 0, 5)),
            (
                "reseller's oldest page of 5",
                self.cold_pages.reserve(PageAsk(resellers[2], oldest, 5)),
            ),
            (
                "reseller's page of 5, halfway",
                self.cold_pages.reserve(PageAsk(resellers[1], 400, 5)),
            ),
        ]
        results, wrong = [], []
        for label, ask in asks:
            if isinstance(ask, PageAsk):
                response = await self.lab.ask(ask)
                problem, allowed = page_differs(response, ask), rows_allowed(1, ask.orders)
            else:
                response = await self.lab.batch(ask)
                problem = batch_differs(response, ask)
                allowed = rows_allowed(len(ask), shown_orders(ask))
            work = work_of(response)
            if problem or work is None:
                wrong.append(f"{label}: {problem or 'no Server-Timing counts on the response'}")
            elif work.rows > allowed:
                wrong.append(f"{label}: {work.rows} rows (at most {allowed})")
            else:
                results.append(f"{label}: {work.rows} rows")
        return Measured(
            not wrong,
            "; ".join(wrong or results),
            f"rows read at most {ROWS_FACTOR}x the users, orders and lines shown (+{ROWS_SLACK}), "
            f"however long the history ({data.RESELLER_ORDERS} orders for a reseller)",
        )

    async def cached(self) -> Measured:
        ids = self.buyers.take(CACHE_USERS)
        ask = PageAsk(self.buyers.take(1)[0], 0, 10)
        requests: list[tuple[str, Send, Judge]] = [
            (
                f"batch of {CACHE_USERS} users",
                lambda: self.lab.batch(ids),
                lambda r: batch_differs(r, ids),
            ),
            ("page of 10", lambda: self.lab.ask(ask), lambda r: page_differs(r, ask)),
        ]
        shown, ok = [], True
        for label, send, differs in requests:
            first = await send()
            again = await send()
            problem = differs(first) or differs(again)
            work = work_of(again)
            if not problem and work is None:
                problem = "no Server-Timing counts"
            ok = ok and not problem and work is not None and work.catalog_calls == 0
            seen = problem or f"{work.catalog_calls if work else '?'} catalog calls"
            shown.append(f"{label} asked again: {seen}")
        return Measured(ok, "; ".join(shown), "0 calls: every price still cached, answers right")

    # -- the catalog in trouble -------------------------------------------------------------

    async def outage(self) -> Measured:
        if why := self.catalog.available():
            return Measured(
                False,
                why,
                "the lab running from this tree, so the grader can pause and stop the catalog",
            )
        await self.lab.settle()
        hung = await self._while_hanging()
        down = await self._while_down()
        wrong = [problem for problem in (*hung[0], *down[0]) if problem]
        return Measured(
            not wrong,
            "; ".join(wrong) or f"{hung[1]}; {down[1]}",
            f"while the catalog hangs ({HANG_S:g} s): /healthz answers within "
            f"{HANG_PROBE_LIMIT_S * 1000:.0f} ms and every answer is right or a 502/503/504 "
            "problem+json; while it is down: 503 problem+json with Retry-After for prices no "
            "cache holds; never a 200 with a wrong or missing price",
        )

    def _outage_requests(self) -> list[tuple[str, Send, Judge]]:
        ids = self.cold.take(OUTAGE_USERS)
        ask, _ = self.cold_pages.take(OUTAGE_PAGE, OUTAGE_PAGE_SKUS)
        return [
            (
                f"cold batch of {len(ids)} users",
                lambda: self.lab.batch(ids),
                lambda r: batch_differs(r, ids),
            ),
            (
                f"cold page of {ask.limit} old orders",
                lambda: self.lab.ask(ask),
                lambda r: page_differs(r, ask),
            ),
        ]

    async def _while_hanging(self) -> tuple[list[str], str]:
        requests = self._outage_requests()
        wrong: list[str] = []
        await asyncio.to_thread(self.catalog.hang)
        tasks = [asyncio.create_task(send()) for _, send, _ in requests]
        try:
            await asyncio.sleep(0.2)
            slowest = 0.0
            for _ in range(HANG_PROBES):
                started = time.perf_counter()
                try:
                    await self.lab.healthz(timeout=HANG_S)
                    slowest = max(slowest, time.perf_counter() - started)
                except httpx.TimeoutException:
                    slowest = HANG_S
                    break
                await asyncio.sleep((HANG_S - 0.4) / HANG_PROBES)
            if slowest >= HANG_PROBE_LIMIT_S:
                wrong.append(f"/healthz took {slowest * 1000:.0f} ms while the catalog hung")
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        finally:
            await asyncio.to_thread(self.catalog.resume)
        answers = await asyncio.gather(*tasks, return_exceptions=True)
        shown = []
        for (label, _, differs), answer in zip(requests, answers, strict=True):
            verdict = self._outage_answer(answer, differs, hanging=True)
            shown.append(f"{label}: {verdict[1]}")
            if verdict[0]:
                wrong.append(f"while the catalog hung, {label}: {verdict[0]}")
        await self.lab.settle()
        return (
            wrong,
            f"catalog hung {HANG_S:g} s: /healthz slowest {slowest * 1000:.0f} ms, "
            + ", ".join(shown),
        )

    async def _while_down(self) -> tuple[list[str], str]:
        requests = self._outage_requests()
        wrong: list[str] = []
        await asyncio.to_thread(self.catalog.stop)
        try:
            answers = [await send() for _, send, _ in requests]
        finally:
            await asyncio.to_thread(self.catalog.start)
        shown, refused = [], 0
        for (label, _, differs), answer in zip(requests, answers, strict=True):
            problem, verdict = self._outage_answer(answer, differs, hanging=False)
            shown.append(f"{label}: {verdict}")
            refused += answer.status_code == 503
            if problem:
                wrong.append(f"while the catalog was down, {label}: {problem}")
        if not refused and not wrong:
            wrong.append(
                "while the catalog was down, no request needed it: prices nobody had asked for "
                "came from somewhere"
            )
        await self.lab.catalog_back()
        return wrong, "catalog down: " + ", ".join(shown)

    @staticmethod
    def _outage_answer(
        answer: httpx.Response | BaseException, differs: Judge, hanging: bool
    ) -> tuple[str, str]:
        """(what is wrong, what was seen) for one answer given while the catalog was in trouble."""
        if isinstance(answer, BaseException):
            return f"no answer ({type(answer).__name__})", "no answer"
        status = answer.status_code
        if status == 200:
            problem = differs(answer)
            return (f"HTTP 200 with {problem}" if problem else ""), "200, right"
        allowed = OUTAGE_STATUSES if hanging else (503,)
        if (
            status in allowed
            and is_problem(answer)
            and (hanging or "retry-after" in answer.headers)
        ):
            return "", f"{status} problem+json"
        return f"HTTP {status}{' problem+json' if is_problem(answer) else ''}", f"{status}"

    # -- the database stuck ------------------------------------------------------------------

    async def stuck_database(self) -> Measured:
        database = lab_processes.read_database(self.root)
        if database is None or database.kind != POSTGRESQL or database.url is None:
            kind = database.note if database else "unknown"
            return Measured(
                True,
                f"not measured: the grader cannot lock this lab's database ({kind})",
                "a batch held by locked tables; /healthz answers meanwhile",
            )
        await self.lab.settle()
        ids = self.buyers.take(3)
        ask = PageAsk(self.buyers.take(1)[0], 0, 5)
        locked = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_locked() -> None:
            loop.call_soon_threadsafe(locked.set)

        holder = asyncio.create_task(asyncio.to_thread(hold_tables, database.url, on_locked))
        try:
            await asyncio.wait_for(locked.wait(), timeout=10.0)
        except TimeoutError:
            await asyncio.gather(holder, return_exceptions=True)
            return Measured(False, "the grader could not lock the orders tables", "a lock")
        waiting = [
            asyncio.create_task(self.lab.batch(ids)),
            asyncio.create_task(self.lab.ask(ask)),
        ]
        await asyncio.sleep(0.2)
        slowest = 0.0
        for _ in range(STUCK_PROBES):
            started = time.perf_counter()
            try:
                await self.lab.healthz(timeout=STUCK_DB_S * 2)
                slowest = max(slowest, time.perf_counter() - started)
            except httpx.TimeoutException:
                slowest = STUCK_DB_S * 2
            await asyncio.sleep(0.2)
        await holder
        batch, page = await asyncio.gather(*waiting)
        problems = [
            f"{label}: {problem}"
            for label, problem in (
                ("batch", batch_differs(batch, ids)),
                ("page", page_differs(page, ask)),
            )
            if problem
        ]
        await self.lab.settle()
        return Measured(
            slowest < STUCK_PROBE_LIMIT_S and not problems,
            f"while a batch and a page waited {STUCK_DB_S:g} s on locked tables: /healthz "
            f"slowest {slowest * 1000:.0f} ms; "
            + ("; ".join(problems) or "both right once the tables were free"),
            f"/healthz within {STUCK_PROBE_LIMIT_S * 1000:.0f} ms (database work off the event "
            "loop); the batch and the page right",
        )

    # -- time ---------------------------------------------------------------------------------

    async def _timed_batch(self, ids: list[int]) -> tuple[float, int | None]:
        """(seconds, HTTP status), or (the timeout, None) when the batch took too long."""
        start = time.perf_counter()
        try:
            response = await self.lab.batch(ids, timeout=BATCH_TIMEOUT_S)
        except httpx.TimeoutException:
            return BATCH_TIMEOUT_S, None
        elapsed = time.perf_counter() - start
        self.answered.append(Answered(ids, response))
        return elapsed, response.status_code

    async def p99(self) -> Measured:
        await self.lab.settle()
        self.answered = []
        alone, status = await self._timed_batch(self.buyers.take(BATCH_USERS))
        expected = (
            f"P99 < {P99_SLO_S * 1000:.0f} ms (on a machine too busy for that: a batch's median "
            f"<= {SCALE_MAX:g} one-user batches), 0 errors ({LOAD_REQUESTS} batches of "
            f"{BATCH_USERS} users, {LOAD_CONCURRENCY} at a time, up to {LOAD_ATTEMPTS} runs); "
            f"every answer right, each batch within "
            f"{MAX_STATEMENTS} statements and its catalog calls within 1 per "
            f"{data.CATALOG_BATCH_MAX} SKUs (+1)"
        )
        if status != 200:
            await self.lab.settle()
            return Measured(
                False,
                f"one batch of {BATCH_USERS} users, alone: "
                + (f"over {BATCH_TIMEOUT_S:.0f} s" if status is None else f"HTTP {status}"),
                expected,
            )
        async with quiet_neighbours():
            runs = await load_runs(self._load_run, LOAD_ATTEMPTS)
        drained = await self.lab.settle()
        wrong = self._judge_answered()
        return Measured(
            runs[-1].passed and not wrong,
            describe_runs(runs)
            + f"; one batch alone {alone * 1000:.0f} ms"
            + (f"; {'; '.join(wrong)}" if wrong else f"; all {len(self.answered)} answers right"),
            expected,
            f"service needed {drained:.1f} s to drain afterwards" if drained > 1 else "",
        )

    def _judge_answered(self) -> list[str]:
        """Judge the answers kept during a timed run (after it, so judging costs it no time)."""
        wrong, costly = 0, 0
        first = ""
        for answered in self.answered:
            if answered.response.status_code != 200:
                continue  # counted as an error by the run itself
            problem = batch_differs(answered.response, answered.ids)
            work = work_of(answered.response)
            skus = len(data.skus_of(shown_orders(answered.ids)))
            if not problem and work is None:
                problem = "no Server-Timing counts"
            elif (
                not problem
                and work is not None
                and (work.statements > MAX_STATEMENTS or work.catalog_calls > calls_allowed(skus))
            ):
                costly += 1
                problem = f"{work.statements} statements, {work.catalog_calls} catalog calls"
            wrong += bool(problem)
            first = first or problem
        if not wrong:
            return []
        return [f"{wrong} of {len(self.answered)} answers wrong or too costly (first: {first})"]

    async def _load_run(self) -> LoadRun:
        """LOAD_REQUESTS batches, LOAD_CONCURRENCY at a time, each followed by a cheap one-user
        batch; stops as soon as two batches failed."""
        latencies: list[float] = []
        cheap: list[float] = []
        errors = 0
        sent = 0

        def more() -> bool:
            over_budget = time.perf_counter() - started > LOAD_BUDGET_S
            return (
                sent < LOAD_REQUESTS
                and errors < 2
                and not (over_budget and sent >= LOAD_MIN_REQUESTS)
            )

        async def worker() -> None:
            nonlocal errors, sent
            while more():
                sent += 1
                elapsed, status = await self._timed_batch(self.buyers.take(BATCH_USERS))
                latencies.append(elapsed)
                errors += status != 200
                elapsed, status = await self._timed_batch(self.idle.take(1))
                cheap.append(elapsed if status == 200 else math.inf)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(LOAD_CONCURRENCY)))
        return LoadRun(latencies, errors, time.perf_counter() - started, cheap)

    async def no_stall(self) -> Measured:
        await self.lab.settle()
        async with quiet_neighbours():
            return await self._no_stall()

    async def _no_stall(self) -> Measured:
        stop = asyncio.Event()
        batches = 0
        wrong: list[str] = []

        async def large_batches() -> None:
            nonlocal batches
            while not stop.is_set():
                try:
                    await self.lab.batch(self.buyers.take(BATCH_USERS), timeout=5.0)
                    batches += 1
                except httpx.TimeoutException:
                    return

        async def probe(n: int) -> float:
            start = time.perf_counter()
            try:
                if n % 2:
                    ask = PageAsk(self.buyers.take(1)[0], 0, 5)
                    response = await self.lab.ask(ask, timeout=PROBE_TIMEOUT_S)
                    if problem := page_differs(response, ask):
                        wrong.append(f"single-user read: {problem}")
                else:
                    await self.lab.healthz()
            except httpx.TimeoutException:
                return PROBE_TIMEOUT_S
            return time.perf_counter() - start

        background = [asyncio.create_task(large_batches())]
        await asyncio.sleep(PROBE_INTERVAL_S)
        timings: dict[str, list[float]] = {"/healthz": [], "single-user read": []}
        for n in range(PROBES):
            # More batch streams join only once a probe got through beside the first: a service
            # that stalls has shown it, and needs no more backlog to work off.
            if n and len(background) < STALL_WORKERS:
                background.append(asyncio.create_task(large_batches()))
            kind = "single-user read" if n % 2 else "/healthz"
            timings[kind].append(await probe(n))
            if timings[kind][-1] >= PROBE_TIMEOUT_S:
                break  # a probe got no answer at all: the verdict is in
            await asyncio.sleep(PROBE_INTERVAL_S)
        stop.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        drained = await self.lab.settle()
        every = [t for kind in timings.values() for t in kind]
        silent = f"no answer within {PROBE_TIMEOUT_S:.0f} s"
        shown = ", ".join(
            f"{kind} slowest {silent if max(ts) >= PROBE_TIMEOUT_S else f'{max(ts) * 1000:.0f} ms'}"
            for kind, ts in timings.items()
            if ts
        )
        # The verdict is on the second slowest probe: one hiccup of a busy machine is forgiven.
        p90 = percentile(every, 90)
        return Measured(
            p90 < PROBE_LIMIT_S and max(every) < PROBE_TIMEOUT_S and not wrong,
            f"while {len(background)} streams of {BATCH_USERS}-user batches run: {shown}; "
            f"P90 of {len(every)} probes {p90 * 1000:.0f} ms" + (f"; {wrong[0]}" if wrong else ""),
            f"P90 of {PROBES} probes < {PROBE_LIMIT_S * 1000:.0f} ms, every probe answered right",
            f"{batches} large batches completed; service needed {drained:.1f} s to drain"
            if drained > 1
            else "",
        )


async def grade(root: Path, report: Reporter | None = None) -> Scorecard:
    """Grade the orders service the lab of `root` serves (the catalog of that lab is paused and
    stopped by one check, as an outage would)."""
    orders_url, catalog_url = SERVICES["orders"].url, SERVICES["catalog"].url
    catalog = CatalogSwitch(root)
    if not catalog.available():
        # A grading run stopped halfway (Ctrl-C) must not leave the catalog paused for the next;
        # if it cannot be resumed from here, the outage check will say why.
        with contextlib.suppress(OSError, subprocess.SubprocessError, lab_processes.LabError):
            await asyncio.to_thread(catalog.resume)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(timeout=SLOW_TIMEOUT_S, limits=limits) as http:
        await require_ready(http, "catalog", catalog_url)
        await require_ready(http, "orders", orders_url)
        lab = OrdersLab(http, orders_url, catalog_url)
        await lab.settle()  # a backlog from an earlier run would muddle the timings
        # Fresh randomness each run: which users a check asks for must not be predictable.
        grader = Grader(root, lab, catalog, random.Random())  # noqa: S311 - not cryptographic
        # The grader's data, made before the first check so that no check pays for it.
        await asyncio.to_thread(
            lambda: (data.cold_users(), data.cold_reseller_skus(), _orders_by_id())
        )
        card = await run_checks(
            "n-plus-one", grader.checks(), report, lab_processes.read_database(root)
        )
        await lab.settle()  # leave the lab answering, whatever the checks did to it
        return card


SCENARIO = Scenario(
    id="n-plus-one",
    codename="slow-orders",
    title="Order history is slow, and everything stalls while big batches run",
    services=("orders",),
    symptoms=frozenset({ANSWERS, NO_STALL}),
    grade=grade,
)
