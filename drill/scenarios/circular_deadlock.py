"""The `circular-deadlock` grader: black-box over HTTP against the running chain (service-a ->
service-b -> service-c), plus one failure drill that stops service-c in the local lab.

Grading time is bounded on the poisoned code too: the load runs LOAD_S, each request waits at
most CLIENT_TIMEOUT_S, and the recovery and restart waits have fixed windows (about a minute in
all when the chain deadlocks, half that when it holds).
"""

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from drill import lab
from drill.grading import (
    Check,
    Measured,
    Reporter,
    Scorecard,
    percentile,
    require_ready,
    run_checks,
)
from drill.scenarios import Scenario
from drill.services import SERVICES
from services.chain.pricing import DISCOUNT_RATES, PRICE_LIST, Tier, tier_of

CHAIN = ("service-a", "service-b", "service-c")
STOPPED = "service-c"
DEFAULT_POOL = 8  # the default CHAIN_MAX_CONCURRENCY, when service-a does not publish its own
LOAD_FACTOR = 4
MAX_LOAD_CONCURRENCY = 256  # the grader's own ceiling, whatever pool size a fix sets
LOAD_S = 10.0
CLIENT_TIMEOUT_S = 10.0  # twice the default CHAIN_TIMEOUT_S: a request that takes longer hangs
BASELINE_S = 3.0
BASELINE_CONCURRENCY = 2
# Shares and bounds far from both outcomes: the poisoned chain serves ~0 quotes/s under load with
# a P99 of CLIENT_TIMEOUT_S; a fixed one keeps its low-load rate with a P99 well under 1 s.
THROUGHPUT_SHARE = 1 / 3
P99_BOUND_S = 2.0
RECOVERY_WINDOW_S = 20.0
RECOVERED_AFTER = 3  # quotes in a row, each answered within FAST_S
FAST_S = 1.0
FAIL_FAST_REQUESTS = 10
FAIL_FAST_CONCURRENCY = 5
RESTART_WINDOW_S = 15.0
DEPENDENCY_STATUSES = frozenset({502, 503, 504})
BASKETS: tuple[tuple[tuple[str, int], ...], ...] = (
    (("SKU-BAGEL", 3), ("SKU-FILTER", 7)),
    (("SKU-GRINDER", 1), ("SKU-COFFEE", 3)),
    (("SKU-MUG", 2), ("SKU-BEANS", 1), ("SKU-FILTER", 1)),
)


def customer_of(tier: Tier) -> uuid.UUID:
    """A fresh customer id of the given loyalty tier."""
    while (candidate := uuid.uuid4()) and tier_of(candidate) != tier:
        pass
    return candidate


def expected_total(basket: Iterable[tuple[str, int]], tier: Tier) -> str:
    """The total of the spec (runbooks/specs/chain.md), computed here independently."""
    subtotal = sum((PRICE_LIST[sku] * qty for sku, qty in basket), Decimal(0))
    discount = (subtotal * DISCOUNT_RATES[tier]).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return str((subtotal - discount).quantize(Decimal("0.01")))


def quote_body(customer: uuid.UUID, basket: Iterable[tuple[str, int]]) -> dict[str, Any]:
    """A well-formed POST /v1/quote body."""
    return {"customer_id": str(customer), "items": [{"sku": s, "qty": q} for s, q in basket]}


def is_problem(response: httpx.Response) -> bool:
    """An RFC 9457 body with the lab's error_code and trace_id."""
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return False
    body = response.json()
    return bool(body.get("error_code")) and bool(body.get("trace_id"))


@dataclass
class LoadRun:
    """What one burst of concurrent quotes did."""

    concurrency: int
    elapsed_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    client_timeouts: int = 0
    connection_errors: int = 0
    upstream_timeouts: int = 0  # the chain's own chain_upstream_timeouts_total, during the run

    @property
    def ok(self) -> int:
        """Quotes answered 200."""
        return self.statuses.get(200, 0)

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def rate(self) -> float:
        """Successful quotes per second."""
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0


class Grader:
    """Every check of the circular-deadlock drill."""

    def __init__(self, root: Path, http: httpx.AsyncClient) -> None:
        self.root = root
        self.http = http
        self.urls = {name: SERVICES[name].url for name in CHAIN}
        self.quote_url = f"{self.urls['service-a']}/v1/quote"
        self._baseline: LoadRun | None = None
        self._load: LoadRun | None = None
        self._load_ended = 0.0
        self.pool = DEFAULT_POOL

    def checks(self) -> list[tuple[str, Check]]:
        """The checks, in the order the scorecard lists them."""
        return [
            ("quotes are exact at low load", self.exact),
            ("no timeouts and no 5xx at 4x the pool, sustained", self.no_errors_under_load),
            ("throughput at 4x the pool holds", self.throughput),
            (f"P99 at 4x the pool < {P99_BOUND_S:g} s", self.p99),
            ("the chain recovers by itself once load stops", self.recovers),
            (f"{STOPPED} stopped: callers fail fast with problem+json", self.fails_fast),
        ]

    async def quote(
        self, body: dict[str, Any], timeout: float = CLIENT_TIMEOUT_S
    ) -> httpx.Response:
        """POST /v1/quote on service-a."""
        return await self.http.post(self.quote_url, json=body, timeout=timeout)

    async def exact(self) -> Measured:
        wrong = []
        cases = [(tier, basket) for tier in DISCOUNT_RATES for basket in BASKETS]
        for tier, basket in cases:
            response = await self.quote(quote_body(customer_of(tier), basket))
            body = response.json() if response.status_code == 200 else {}
            want = expected_total(basket, tier)
            well_formed = bool(body.get("quote_id")) and bool(body.get("trace_id"))
            if body.get("total") != want or not well_formed:
                got = body.get("total", f"HTTP {response.status_code}")
                wrong.append(f"{tier} {dict(basket)}: {got!r} (want {want!r})")
        return Measured(
            not wrong,
            f"{len(cases) - len(wrong)}/{len(cases)} quotes exact, with quote_id and trace_id",
            f"{len(cases)}/{len(cases)}",
            "; ".join(wrong[:3]),
        )

    async def load(self) -> tuple[LoadRun, LoadRun]:
        """The low-load baseline and the 4x-pool load, run once and shared by three checks."""
        if self._baseline is None or self._load is None:
            self.pool = await self._pool_size()
            self._baseline = await self._run(BASELINE_CONCURRENCY, BASELINE_S)
            concurrency = min(LOAD_FACTOR * self.pool, MAX_LOAD_CONCURRENCY)
            self._load = await self._run(concurrency, LOAD_S)
            self._load_ended = time.monotonic()
        return self._baseline, self._load

    async def _pool_size(self) -> int:
        samples = await self._samples("service-a", "chain_workers_max")
        return max(1, int(max(samples, default=DEFAULT_POOL)))

    async def _samples(self, service: str, metric: str) -> list[float]:
        response = await self.http.get(f"{self.urls[service]}/metrics", timeout=5.0)
        return [
            sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if sample.name == metric
        ]

    async def _upstream_timeouts(self) -> int:
        total = 0.0
        for service in CHAIN:
            try:
                total += sum(await self._samples(service, "chain_upstream_timeouts_total"))
            except httpx.HTTPError:
                continue
        return int(total)

    async def _run(self, concurrency: int, duration_s: float) -> LoadRun:
        run = LoadRun(concurrency)
        timeouts_before = await self._upstream_timeouts()
        stop_at = time.monotonic() + duration_s
        baskets = [quote_body(customer_of(tier), BASKETS[0]) for tier in DISCOUNT_RATES]

        async def user(n: int) -> None:
            while time.monotonic() < stop_at:
                n += 1
                started = time.perf_counter()
                try:
                    response = await self.quote(baskets[n % len(baskets)])
                    run.statuses[response.status_code] = (
                        run.statuses.get(response.status_code, 0) + 1
                    )
                except httpx.TimeoutException:
                    run.client_timeouts += 1
                except httpx.TransportError:
                    run.connection_errors += 1
                run.latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(user(n) for n in range(concurrency)))
        run.elapsed_s = time.perf_counter() - started
        run.upstream_timeouts = await self._upstream_timeouts() - timeouts_before
        return run

    async def no_errors_under_load(self) -> Measured:
        _, run = await self.load()
        total = len(run.latencies)
        others = total - run.ok - run.server_errors - run.client_timeouts
        ok = run.ok == total > 0 and run.upstream_timeouts == 0
        return Measured(
            ok,
            f"{total} quotes from {run.concurrency} concurrent clients over {run.elapsed_s:.1f} s "
            f"(pool {self.pool}): {run.ok} ok, {run.server_errors} 5xx, "
            f"{run.client_timeouts} client timeouts (> {CLIENT_TIMEOUT_S:g} s), "
            f"{run.upstream_timeouts} upstream timeouts in /metrics, {others} other failures",
            "every quote 200; 0 5xx, 0 client timeouts, 0 upstream timeouts",
            f"statuses {dict(sorted(run.statuses.items()))}",
        )

    async def throughput(self) -> Measured:
        baseline, run = await self.load()
        floor = baseline.rate * THROUGHPUT_SHARE
        return Measured(
            run.ok > 0 and run.rate >= floor,
            f"{run.rate:.1f} quotes/s at {run.concurrency} concurrent, "
            f"{baseline.rate:.1f} quotes/s at {baseline.concurrency} concurrent",
            f">= {floor:.1f} quotes/s (a third of the low-load rate)",
        )

    async def p99(self) -> Measured:
        _, run = await self.load()
        p99 = percentile(run.latencies, 99) if run.latencies else float("inf")
        p50 = percentile(run.latencies, 50) if run.latencies else float("inf")
        return Measured(
            p99 < P99_BOUND_S,
            f"P99 {p99 * 1000:.0f} ms, P50 {p50 * 1000:.0f} ms at {run.concurrency} concurrent",
            f"P99 < {P99_BOUND_S * 1000:.0f} ms (CHAIN_TIMEOUT_S is 5 s)",
        )

    async def recovers(self) -> Measured:
        await self.load()
        body = quote_body(customer_of("gold"), BASKETS[1])
        in_a_row = 0
        deadline = self._load_ended + RECOVERY_WINDOW_S
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                response = await self.quote(body, timeout=FAST_S * 5)
                fast = response.status_code == 200 and time.perf_counter() - started < FAST_S
            except httpx.TransportError:
                fast = False
            in_a_row = in_a_row + 1 if fast else 0
            if in_a_row >= RECOVERED_AFTER:
                after = time.monotonic() - self._load_ended
                return Measured(
                    True,
                    f"{RECOVERED_AFTER} quotes in a row answered within {FAST_S:g} s, "
                    f"{after:.1f} s after load stopped",
                    f"within {RECOVERY_WINDOW_S:g} s of the load stopping",
                )
            if not fast:
                await asyncio.sleep(0.5)
        return Measured(
            False,
            f"not recovered {RECOVERY_WINDOW_S:g} s after load stopped",
            f"{RECOVERED_AFTER} quotes in a row within {FAST_S:g} s each",
        )

    async def fails_fast(self) -> Measured:
        running = lab.read_state(self.root)
        if STOPPED not in running:
            return Measured(
                False,
                f"{STOPPED} is not running in the lab of {self.root}",
                "the lab running (drill up, local or Docker) so the grader can stop and restart it",
            )
        await asyncio.to_thread(lab.stop, self.root, {STOPPED: running[STOPPED]})
        try:
            outcomes = await self._quotes_while_down()
        finally:
            await asyncio.to_thread(lab.start, self.root, [STOPPED], progress=lambda _line: None)
        back = await self._back_after_restart()
        slowest = max((elapsed for elapsed, _, _ in outcomes), default=float("inf"))
        bad = sorted({label for _, label, good in outcomes if not good})
        ok = not bad and slowest < FAST_S and back is not None
        return Measured(
            ok,
            f"{len(outcomes)} quotes: slowest answered in {slowest:.2f} s; "
            f"{', '.join(sorted({label for _, label, _ in outcomes}))}; "
            + (f"quotes work again {back:.1f} s after restart" if back is not None else "")
            + ("" if back is not None else f"no quote works {RESTART_WINDOW_S:g} s after restart"),
            f"every answer within {FAST_S:g} s: 502/503/504 problem+json with error_code and "
            "trace_id; quotes work again once it is back",
            f"not as expected: {bad}" if bad else "",
        )

    async def _quotes_while_down(self) -> list[tuple[float, str, bool]]:
        gate = asyncio.Semaphore(FAIL_FAST_CONCURRENCY)
        body = quote_body(customer_of("silver"), BASKETS[2])

        async def one() -> tuple[float, str, bool]:
            async with gate:
                started = time.perf_counter()
                try:
                    response = await self.quote(body)
                except httpx.TimeoutException:
                    return time.perf_counter() - started, "client timeout", False
                elapsed = time.perf_counter() - started
                problem = is_problem(response)
                code = response.json().get("error_code") if problem else None
                label = f"HTTP {response.status_code} {code or 'not problem+json'}"
                return elapsed, label, problem and response.status_code in DEPENDENCY_STATUSES

        return list(await asyncio.gather(*(one() for _ in range(FAIL_FAST_REQUESTS))))

    async def _back_after_restart(self) -> float | None:
        started = time.monotonic()
        body = quote_body(customer_of("bronze"), BASKETS[0])
        while time.monotonic() - started < RESTART_WINDOW_S:
            try:
                if (await self.quote(body, timeout=FAST_S * 5)).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
        return None


async def grade(root: Path, report: Reporter | None = None) -> Scorecard:
    """Grade the chain the lab serves."""
    limits = httpx.Limits(max_connections=MAX_LOAD_CONCURRENCY + 16)
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_S, limits=limits) as http:
        for name in CHAIN:
            await require_ready(http, name, SERVICES[name].url)
        return await run_checks("circular-deadlock", Grader(root, http).checks(), report)


SCENARIO = Scenario(
    id="circular-deadlock",
    title="A call cycle through bounded worker pools: service-a -> b -> c -> a",
    services=CHAIN,
    grade=grade,
)
