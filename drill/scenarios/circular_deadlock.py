"""The `circular-deadlock` grader: black-box over HTTP against the running chain (service-a ->
service-b -> service-c), plus two failure drills on service-c of the lab: paused for a few
seconds (a callee that hangs) and stopped (a callee that is down); both always put it back.

Every expected total, tier and limit comes from drill/scenarios/chain_domain.py, the grader's own
copy of the spec, never from services/ (the code a team edits). Each check grades evidence of the
grader's own requests (their answers, their timing, the calls they cause while nothing else can
cause them), so the drill's Locust load running beside it does not change a verdict; where it
would (a time bound), the drill's load is paused while it measures (quiet_neighbours), and other
traffic scales the bound with what it holds in flight, as the scorecard says. What each check is
for, and what it cannot see: docs/grading/circular-deadlock.md.

Grading time is bounded on the poisoned code too: the load runs LOAD_S, each request waits at
most CLIENT_TIMEOUT_S, and the recovery, hang and restart waits have fixed windows.
"""

import asyncio
import contextlib
import os
import re
import signal
import statistics
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from drill import lab
from drill.grading import (
    Check,
    Measured,
    Reporter,
    Scorecard,
    metric_samples,
    percentile,
    quiet_neighbours,
    require_ready,
    run_checks,
)
from drill.scenarios import Scenario
from drill.scenarios.chain_domain import (
    TIERS,
    Basket,
    customer_of,
    discount_of,
    money,
    pool_limit,
    subtotal_of,
    timeout_s,
    total_of,
)
from drill.services import SERVICES

CHAIN = ("service-a", "service-b", "service-c")
TARGET = "service-c"  # the service the failure drills pause and stop
DEADLINE_HEADER = "X-Chain-Deadline-Ms"
VISITED_HEADER = "X-Chain-Visited"
CALLER_HEADER = "X-Chain-Caller"
MONEY = re.compile(r"^-?\d{1,12}\.\d{2}$")
PROBLEM = "application/problem+json"
OPERATIONAL_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
# The only public route of each service that a request may reach while a quote is made: anything
# else arriving at service-a or service-b is a call going back upstream.
ENTRY_ROUTES = {"service-a": ("POST", "/v1/quote"), "service-b": ("POST", "/v1/prices")}

LOAD_FACTOR = 4
MAX_LOAD_CONCURRENCY = 256  # the grader's own ceiling, whatever CHAIN_MAX_CONCURRENCY says
LOAD_S = 10.0
CLIENT_TIMEOUT_S = 10.0  # twice the default CHAIN_TIMEOUT_S: a request that takes longer hangs
BASELINE_S = 2.0
BASELINE_CONCURRENCY = 2
# Shares and bounds far from both outcomes: the poisoned chain serves ~0 quotes/s under load with
# a P99 of CLIENT_TIMEOUT_S; a fixed one keeps its low-load rate with a P99 well under 1 s.
THROUGHPUT_SHARE = 1 / 3
P99_BOUND_S = 2.0
# The spec's P99_BOUND_S holds on a machine to itself. Under CPU contention from neighbours every
# quote is slower, and the whole line with it: what tells a stall from a slow machine is then the
# shape, not the time. Quotes that only queue have a tail within this factor of their mean
# (measured: 1.4-1.7x); quotes that wait for a timeout while others pass have a tail many times
# their mean; and quotes that all wait for timeouts have a mean of CHAIN_TIMEOUT_S or more, which
# keeps the spec's bound.
TAIL_FACTOR = 3.0
SAMPLE_EVERY_S = 0.25
# In-flight requests a service may count beside the ones its callers send at once: the grader's
# own scrape of /metrics, one by the lab's Prometheus at the same instant, and a request whose
# answer is on its way back while its caller's worker already sent the next.
IN_FLIGHT_SLACK = 3
RECOVERY_WINDOW_S = 20.0
RECOVERED_AFTER = 3  # exact quotes in a row, each within P99_BOUND_S (scaled by other traffic)
FAIL_FAST_S = 1.0
FAIL_FAST_REQUESTS = 10
FAIL_FAST_CONCURRENCY = 5
RESTART_WINDOW_S = 15.0
DEPENDENCY_STATUSES = frozenset({502, 503, 504})
HANG_STATUSES = frozenset({503, 504})
# The hang drill: a budget far below CHAIN_TIMEOUT_S, so honouring it and ignoring it are seconds
# apart; the slack covers scheduling on a shared machine, not a second hop's timeout.
BUDGET_MS = 1500
BUDGET_SLACK_S = 0.6
BUDGET_QUOTES = 3  # given up by service-a: if service-b keeps working on them, it shows
ORPHAN_GRACE_S = 0.3
TIMEOUT_SLACK_S = 1.5
QUIET_IN_FLIGHT = 2  # the grader's scrape and one more: nobody else is using the chain
QUIET_WAIT_S = 3.0
PAUSE_COMMAND_TIMEOUT_S = 30.0

# Checks of what the page already says (timeouts, errors and slowness at the peak, and whether it
# lasts): shown in full before the team's diagnosis is right.
NO_ERRORS = "no timeouts and no 5xx at 4x the pool, sustained"
THROUGHPUT = "throughput at 4x the pool holds"
P99_CHECK = f"P99 at 4x the pool < {P99_BOUND_S:g} s"
RECOVERS = "the chain recovers by itself once load stops"

BASKETS: tuple[Basket, ...] = (
    (("SKU-BAGEL", 3), ("SKU-FILTER", 7)),
    (("SKU-GRINDER", 1), ("SKU-COFFEE", 3)),
    (("SKU-MUG", 2), ("SKU-BEANS", 1), ("SKU-FILTER", 1)),
)
# Discounts of exactly half a cent: rounded half up (the spec) they differ by a cent from
# banker's rounding and from float arithmetic, e.g. 22.50 x 5 % = 1.125 -> 1.13, where
# round(22.5 * 0.05, 2) gives 1.12.
HALF_CENT: tuple[tuple[Basket, str], ...] = (
    ((("SKU-COFFEE", 5),), "silver"),
    ((("SKU-BEANS", 5),), "gold"),
    ((("SKU-MUG", 15),), "gold"),
    ((("SKU-BAGEL", 45),), "gold"),
)
CASES: tuple[tuple[Basket, str], ...] = (
    *((basket, tier) for basket in BASKETS for tier in TIERS),
    *HALF_CENT,
)
# Fields a client may send but the quote contract does not have (runbooks/specs/chain.md): each
# would lower a bronze customer's total if it were trusted.
BODY_EXTRAS: tuple[dict[str, Any], ...] = (
    {"tier": "gold", "discount": "100.00", "total": "0.01", "subtotal": "0.01"},
    {"items_priced": True, "price": "0.01", "discount": "100.00"},
)
# Headers the chain's hops send one another, forged by a client of service-a. Forged paths and
# spent budgets are repeated: more than a breaker's threshold in a row, if the chain counts them
# against a callee.
BREAKER_BAIT = 6
SPOOFED: tuple[tuple[str, str | bytes, int], ...] = (
    (VISITED_HEADER, "service-b", BREAKER_BAIT),
    (DEADLINE_HEADER, "150", BREAKER_BAIT),
    (VISITED_HEADER, "service-a", 1),
    (VISITED_HEADER, "service-a,service-b,service-c", 1),
    (VISITED_HEADER, ",".join(["service-x"] * 200), 1),
    (DEADLINE_HEADER, "0", 1),
    (DEADLINE_HEADER, "99999999999999999999", 1),
    (DEADLINE_HEADER, "9" * 5000, 1),
    (DEADLINE_HEADER, "-1.5", 1),
    (DEADLINE_HEADER, b"\xb2", 1),  # "²" in Latin-1: a digit to str.isdigit(), not to int()
    (CALLER_HEADER, "service-c", 1),
)
CLEAN_AFTER = 3
# After the forged requests, how long the chain may take to serve clean quotes again (a breaker
# they opened closes again), so that the next check is not blamed for it.
SETTLE_S = 10.0


def quote_body(customer: uuid.UUID, basket: Iterable[tuple[str, int]]) -> dict[str, Any]:
    """A well-formed POST /v1/quote body."""
    return {"customer_id": str(customer), "items": [{"sku": s, "qty": q} for s, q in basket]}


def body_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON object a response carries, or {} when it carries none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def is_problem(response: httpx.Response) -> bool:
    """An RFC 9457 body with the lab's error_code and trace_id."""
    if not response.headers.get("content-type", "").startswith(PROBLEM):
        return False
    body = body_of(response)
    return bool(body.get("error_code")) and bool(body.get("trace_id"))


def problem_label(response: httpx.Response) -> str:
    """`HTTP 503 circuit_open`, or what the answer was instead of a problem."""
    code = body_of(response).get("error_code") if is_problem(response) else None
    return f"HTTP {response.status_code} {code or 'not problem+json'}"


def money_error(value: object, want: str) -> str | None:
    """Why a money field is not the exact decimal string `want` (None when it is)."""
    if not isinstance(value, str):
        return f"{value!r} is not a decimal string"
    if not MONEY.match(value):
        return f"{value!r} is not money with two decimal places"
    return None if value == want else f"{value!r} (want {want!r})"


def quote_error(response: httpx.Response, want: str) -> str | None:
    """Why an answer is not a well-formed 200 quote of exactly `want` (None when it is)."""
    if response.status_code != 200:
        return problem_label(response)
    body = body_of(response)
    wrong = money_error(body.get("total"), want)
    if wrong is not None:
        return f"total {wrong}"
    if not body.get("quote_id") or not body.get("trace_id"):
        return "no quote_id or trace_id"
    return None


def prices_error(response: httpx.Response, basket: Basket, tier: str) -> str | None:
    """Why an answer of service-b is not the exact 200 pricing of the basket for the tier."""
    if response.status_code != 200:
        return problem_label(response)
    answer = body_of(response)
    subtotal = subtotal_of(basket)
    discount = discount_of(subtotal, tier)
    want = {"subtotal": subtotal, "discount": discount, "total": subtotal - discount}
    wrong = [
        f"{key} {error}"
        for key, amount in want.items()
        if (error := money_error(answer.get(key), money(amount))) is not None
    ]
    return "; ".join(wrong) or None


def describe(basket: Basket, tier: str) -> str:
    """`gold SKU-MUG x15` for a scorecard line."""
    return f"{tier} " + ", ".join(f"{sku} x{qty}" for sku, qty in basket)


@dataclass
class LoadRun:
    """What one burst of concurrent quotes did."""

    concurrency: int
    elapsed_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    client_timeouts: int = 0
    connection_errors: int = 0
    wrong_totals: list[str] = field(default_factory=list)

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


@dataclass
class Sampled:
    """What the services published while the load ran: requests in flight, pool sizes."""

    in_flight: dict[str, list[float]] = field(default_factory=dict)
    pools: dict[str, float | None] = field(default_factory=dict)

    def peak(self, service: str) -> float | None:
        """The most requests the service held at once in any sample."""
        samples = self.in_flight.get(service, [])
        return max(samples) if samples else None

    def median(self, service: str) -> float | None:
        """The service's typical number of requests in flight during the load."""
        samples = self.in_flight.get(service, [])
        return statistics.median(samples) if samples else None


@dataclass
class Probe:
    """The low-load requests the structure and money checks share: what each one answered, and
    the calls service-a and service-b received (by route) while they ran."""

    quotes: list[str] = field(default_factory=list)  # what was wrong with each quote
    sent: int = 0
    money: list[str] = field(default_factory=list)  # what was wrong on service-b and service-c
    money_answers: int = 0
    upstream_calls: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """One answer of a failure drill: how long it took, what it was, whether it is acceptable."""

    elapsed_s: float
    label: str
    good: bool


class Grader:
    """Every check of the circular-deadlock drill."""

    def __init__(self, root: Path, http: httpx.AsyncClient) -> None:
        self.root = root
        self.http = http
        self.urls = {name: SERVICES[name].url for name in CHAIN}
        self.quote_url = f"{self.urls['service-a']}/v1/quote"
        self.pool = pool_limit()
        self.timeout_s = timeout_s()
        self.concurrency = min(LOAD_FACTOR * self.pool, MAX_LOAD_CONCURRENCY)
        # Low load: at most half the pool in quotes at once. Even the poisoned chain then works
        # (each quote holds two of service-a's workers at most: its own and its tier lookup's),
        # so no low-load check blames what works.
        self.low_load = max(1, self.pool // 2)
        self._probe: Probe | None = None
        self._baseline: LoadRun | None = None
        self._load: LoadRun | None = None
        self._sampled = Sampled()
        self._recovery: Measured | None = None

    def checks(self) -> list[tuple[str, Check]]:
        """The checks, in the order the scorecard lists them."""
        return [
            ("quotes are exact decimal strings at low load", self.exact),
            ("pricing and loyalty answer exact decimal strings", self.money_routes),
            ("nothing calls back upstream: the call graph is a line", self.no_cycle),
            ("fields and headers a client may not set change nothing", self.trust),
            ("hops refuse a spent budget and a request that came back", self.hop_guards),
            (NO_ERRORS, self.no_errors_under_load),
            ("every quote under load is exact", self.exact_under_load),
            (THROUGHPUT, self.throughput),
            (P99_CHECK, self.p99),
            ("the worker pools still bound the work under load", self.bulkhead),
            (RECOVERS, self.recovers),
            (f"{TARGET} hanging: every hop answers within its budget", self.budgets),
            (f"{TARGET} stopped: callers fail fast with problem+json", self.fails_fast),
        ]

    # ---- requests ----------------------------------------------------------------------------

    async def quote(
        self,
        body: dict[str, Any],
        timeout: float = CLIENT_TIMEOUT_S,
        headers: httpx.Headers | Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST /v1/quote on service-a."""
        return await self.http.post(self.quote_url, json=body, timeout=timeout, headers=headers)

    async def post(
        self,
        service: str,
        path: str,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
        timeout: float = CLIENT_TIMEOUT_S,
    ) -> httpx.Response:
        """POST a JSON body to a service of the chain, as the service upstream of it would."""
        url = f"{self.urls[service]}{path}"
        return await self.http.post(url, json=body, headers=headers, timeout=timeout)

    async def metrics(self, service: str) -> str:
        """The service's /metrics page."""
        response = await self.http.get(f"{self.urls[service]}/metrics", timeout=5.0)
        response.raise_for_status()
        return response.text

    async def in_flight(self, service: str) -> float:
        """Requests the service is serving or holding in line right now (the kit's gauge,
        counted by the HTTP layer, before any worker pool: a pool cannot hide from it)."""
        samples = metric_samples(await self.metrics(service), "http_server_requests_in_flight")
        return sum(value for _, value in samples)

    async def route_counts(self, service: str) -> Counter[tuple[str, str]]:
        """Requests the service has answered since it started, by (method, route template)."""
        counts: Counter[tuple[str, str]] = Counter()
        text = await self.metrics(service)
        for labels, value in metric_samples(text, "http_server_request_duration_seconds_count"):
            counts[(labels.get("method", "?"), labels.get("route", "?"))] += int(value)
        return counts

    async def gathered(self, jobs: Iterable[Awaitable[Any]], at_once: int) -> list[Any]:
        """Run the jobs with at most `at_once` in flight; their results, in order."""
        gate = asyncio.Semaphore(at_once)

        async def one(job: Awaitable[Any]) -> Any:
            async with gate:
                return await job

        return list(await asyncio.gather(*(one(job) for job in jobs)))

    # ---- low load: exact money, the call graph, trust boundaries, hop guards -----------------

    async def exact(self) -> Measured:
        probe = await self.probe()
        sent = len(CASES)
        return Measured(
            not probe.quotes,
            f"{sent - len(probe.quotes)}/{sent} quotes exact, with quote_id and trace_id "
            f"({len(HALF_CENT)} of them with a discount of exactly half a cent)",
            f"{sent}/{sent}: totals as decimal strings, rounded half up (the spec)",
            "; ".join(probe.quotes[:3]),
        )

    async def probe(self) -> Probe:
        """Cold quotes (customers never seen before) through service-a, and calls straight to
        service-b and service-c as their callers make them, with and without the tier; meanwhile
        count what reaches service-a and service-b on any route but their entry route. Only a
        call going back upstream (or someone calling those routes by hand) can reach them: the
        drill's load only quotes."""
        if self._probe is not None:
            return self._probe
        probe = Probe()
        before = {name: await self.route_counts(name) for name in ENTRY_ROUTES}
        jobs: list[Awaitable[None]] = []
        for basket, tier in CASES:
            jobs.append(self._probe_quote(probe, basket, tier))
        for tier in TIERS:
            jobs.append(self._probe_prices(probe, BASKETS[2], tier, send_tier=True))
            jobs.append(self._probe_discount(probe, BASKETS[1], tier, send_tier=True))
        jobs.append(self._probe_prices(probe, BASKETS[0], "silver", send_tier=False))
        jobs.append(self._probe_discount(probe, BASKETS[0], "gold", send_tier=False))
        await self.gathered(jobs, self.low_load)
        for name, counts in before.items():
            after = await self.route_counts(name)
            extra: Counter[tuple[str, str]] = Counter()
            for key, n in (after - counts).items():
                if key != ENTRY_ROUTES[name] and key[1] not in OPERATIONAL_ROUTES:
                    extra[key] = n
            probe.upstream_calls[name] = extra
        self._probe = probe
        return probe

    async def _probe_quote(self, probe: Probe, basket: Basket, tier: str) -> None:
        probe.sent += 1
        response = await self.quote(quote_body(customer_of(tier), basket))
        wrong = quote_error(response, total_of(basket, tier))
        if wrong is not None:
            probe.quotes.append(f"{describe(basket, tier)}: {wrong}")

    async def _probe_prices(self, probe: Probe, basket: Basket, tier: str, send_tier: bool) -> None:
        """POST /v1/prices on service-b, as service-a sends it (the tier travels with it); the
        same without the tier may be refused (422) but, if priced, must be priced right."""
        probe.sent += 1
        customer = customer_of(tier)
        body = quote_body(customer, basket) | ({"tier": tier} if send_tier else {})
        response = await self.post("service-b", "/v1/prices", body)
        probe.money_answers += 1
        what = f"service-b {describe(basket, tier)}" + ("" if send_tier else " (no tier)")
        if response.status_code == 422 and not send_tier and is_problem(response):
            return
        wrong = prices_error(response, basket, tier)
        if wrong is not None:
            probe.money.append(f"{what}: {wrong}")

    async def _probe_discount(
        self, probe: Probe, basket: Basket, tier: str, send_tier: bool
    ) -> None:
        """POST /v1/discounts on service-c, as service-b sends it."""
        probe.sent += 1
        subtotal = subtotal_of(basket)
        body: dict[str, Any] = {"customer_id": str(customer_of(tier)), "subtotal": money(subtotal)}
        if send_tier:
            body["tier"] = tier
        response = await self.post("service-c", "/v1/discounts", body)
        probe.money_answers += 1
        what = f"service-c {tier} subtotal {money(subtotal)}" + ("" if send_tier else " (no tier)")
        if response.status_code == 422 and not send_tier and is_problem(response):
            return
        if response.status_code != 200:
            probe.money.append(f"{what}: {problem_label(response)}")
            return
        answer = body_of(response)
        wrong = money_error(answer.get("discount"), money(discount_of(subtotal, tier)))
        if wrong is not None:
            probe.money.append(f"{what}: discount {wrong}")
        if answer.get("tier") != tier:
            probe.money.append(f"{what}: tier {answer.get('tier')!r} (want {tier!r})")

    async def money_routes(self) -> Measured:
        probe = await self.probe()
        return Measured(
            not probe.money,
            f"{probe.money_answers - len(probe.money)}/{probe.money_answers} answers of "
            "service-b (POST /v1/prices) and service-c (POST /v1/discounts) exact",
            "subtotal, discount and total as exact decimal strings; without the tier a 422 "
            "problem or the customer's own tier",
            "; ".join(probe.money[:3]),
        )

    async def no_cycle(self) -> Measured:
        probe = await self.probe()
        calls = [
            f"{name} served {n} {method} {route}"
            for name, extra in probe.upstream_calls.items()
            for (method, route), n in sorted(extra.items())
        ]
        wrong_quotes = "; ".join(probe.quotes[:3])
        return Measured(
            not calls and not probe.quotes,
            (
                "; ".join(calls) + " while the grader quoted"
                if calls
                else "no call reached service-a or service-b but their entry routes"
            )
            + f" ({probe.sent} requests, customers never seen before)",
            "service-a serves only POST /v1/quote and service-b only POST /v1/prices while "
            "quotes are made: no service calls one upstream of it (and every quote exact)",
            f"quotes: {wrong_quotes}" if wrong_quotes else "",
        )

    async def trust(self) -> Measured:
        jobs: list[Awaitable[str | None]] = []
        for extra in BODY_EXTRAS:
            jobs.append(self._forged_body(extra))
        for name, value, times in SPOOFED:
            for _ in range(times):
                jobs.append(self._forged_header(name, value))
        results = await self.gathered(jobs, self.low_load)
        forged = [r for r in results if r is not None]
        # Then clean quotes: whatever the forged requests did must not reach anyone else.
        clean = await self.gathered(
            (self._clean_quote(n) for n in range(CLEAN_AFTER)), self.low_load
        )
        after = [r for r in clean if r is not None]
        if after:
            await self._settle()
        return Measured(
            not forged and not after,
            f"{len(results) - len(forged)}/{len(results)} forged requests answered right; "
            f"{CLEAN_AFTER - len(after)}/{CLEAN_AFTER} clean quotes right after them exact",
            "a forged body field: the exact total or a 422 problem; a forged chain header: the "
            "exact total or a problem (never 500); clean quotes after them exact",
            "; ".join((forged + [f"after: {a}" for a in after])[:4]),
        )

    async def _forged_body(self, extra: dict[str, Any]) -> str | None:
        basket = BASKETS[1]
        body = quote_body(customer_of("bronze"), basket)
        fields = {k: v for k, v in extra.items() if k != "items_priced"}
        if extra.get("items_priced"):
            body["items"] = [item | fields for item in body["items"]]
        else:
            body |= fields
        response = await self.quote(body)
        if response.status_code == 422 and is_problem(response):
            return None
        wrong = quote_error(response, total_of(basket, "bronze"))
        return None if wrong is None else f"bronze quote with {extra}: {wrong}"

    async def _forged_header(self, name: str, value: str | bytes) -> str | None:
        basket = BASKETS[2]
        body = quote_body(customer_of("silver"), basket)
        raw = value if isinstance(value, bytes) else value.encode("ascii")
        response = await self.quote(body, headers=httpx.Headers({name.encode("ascii"): raw}))
        shown = f"{name}: {value[:24]!r}" + ("..." if len(value) > 24 else "")
        if response.status_code == 200:
            wrong = quote_error(response, total_of(basket, "silver"))
            return None if wrong is None else f"{shown}: {wrong}"
        if response.status_code >= 400 and response.status_code != 500 and is_problem(response):
            return None
        return f"{shown}: {problem_label(response)}"

    async def _settle(self) -> None:
        """Wait (SETTLE_S at most) until a clean quote is answered right again."""
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if await self._clean_quote(0) is None:
                    return
            await asyncio.sleep(0.5)

    async def _clean_quote(self, n: int) -> str | None:
        basket, tier = BASKETS[n % len(BASKETS)], TIERS[n % len(TIERS)]
        response = await self.quote(quote_body(customer_of(tier), basket))
        wrong = quote_error(response, total_of(basket, tier))
        return None if wrong is None else f"{describe(basket, tier)}: {wrong}"

    async def hop_guards(self) -> Measured:
        """The spec's contract between hops, played by the grader as the upstream service: a
        spent budget is refused (504 deadline_exceeded), and so is a request whose path already
        crossed the service (508 call_loop), on service-b and service-c alike."""
        basket = BASKETS[0]
        subtotal = money(subtotal_of(basket))
        cases = [
            ("service-b", "/v1/prices", {DEADLINE_HEADER: "0"}, 504, "deadline_exceeded"),
            ("service-b", "/v1/prices", {VISITED_HEADER: "service-a,service-b"}, 508, "call_loop"),
            ("service-c", "/v1/discounts", {DEADLINE_HEADER: "0"}, 504, "deadline_exceeded"),
            (
                "service-c",
                "/v1/discounts",
                {VISITED_HEADER: "service-a,service-b,service-c"},
                508,
                "call_loop",
            ),
        ]
        wrong = []
        for service, path, headers, status, code in cases:
            customer = customer_of("gold")
            body: dict[str, Any] = {"customer_id": str(customer), "tier": "gold"}
            if service == "service-b":
                body |= {"items": quote_body(customer, basket)["items"]}
            else:
                body["subtotal"] = subtotal
            response = await self.post(service, path, body, headers)
            code_seen = body_of(response).get("error_code") if is_problem(response) else None
            if response.status_code != status or code_seen != code:
                sent = ", ".join(f"{k}: {v}" for k, v in headers.items())
                wrong.append(f"{service} {path} with {sent}: {problem_label(response)}")
        return Measured(
            not wrong,
            f"{len(cases) - len(wrong)}/{len(cases)} refused as the spec says",
            "504 deadline_exceeded for X-Chain-Deadline-Ms: 0; 508 call_loop for an "
            "X-Chain-Visited naming the service itself (service-b and service-c)",
            "; ".join(wrong),
        )

    # ---- load --------------------------------------------------------------------------------

    async def load(self) -> tuple[LoadRun, LoadRun]:
        """The low-load baseline, the 4x-pool load and the recovery after it, run once and
        shared by six checks. The spec states them at the grader's own concurrency: during a
        drill its Locust load is paused meanwhile (quiet_neighbours)."""
        if self._baseline is None or self._load is None:
            async with quiet_neighbours():
                self._baseline = await self._run(BASELINE_CONCURRENCY, BASELINE_S)
                stop = asyncio.Event()
                sampler = asyncio.create_task(self._sample(stop))
                try:
                    self._load = await self._run(self.concurrency, LOAD_S)
                finally:
                    stop.set()
                    await sampler
                self._recovery = await self._recovery_after_load(time.monotonic())
        return self._baseline, self._load

    async def _run(self, concurrency: int, duration_s: float) -> LoadRun:
        run = LoadRun(concurrency)
        stop_at = time.monotonic() + duration_s

        async def user(n: int) -> None:
            while time.monotonic() < stop_at:
                basket, tier = CASES[n % len(CASES)]
                n += concurrency
                started = time.perf_counter()
                try:
                    # A customer never seen before each time: no cache can stand in for the call.
                    response = await self.quote(quote_body(customer_of(tier), basket))
                    run.statuses[response.status_code] = (
                        run.statuses.get(response.status_code, 0) + 1
                    )
                    if response.status_code == 200:
                        wrong = quote_error(response, total_of(basket, tier))
                        if wrong is not None:
                            run.wrong_totals.append(f"{describe(basket, tier)}: {wrong}")
                except httpx.TimeoutException:
                    run.client_timeouts += 1
                except httpx.TransportError:
                    run.connection_errors += 1
                run.latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(user(n) for n in range(concurrency)))
        run.elapsed_s = time.perf_counter() - started
        return run

    async def _sample(self, stop: asyncio.Event) -> None:
        """While the load runs: each service's requests in flight, every SAMPLE_EVERY_S; and the
        pool size each one publishes (chain_workers_max), once."""
        for name in CHAIN:
            try:
                values = [
                    v for _, v in metric_samples(await self.metrics(name), "chain_workers_max")
                ]
            except httpx.HTTPError:
                values = []
            self._sampled.pools[name] = max(values) if values else None
        while not stop.is_set():
            for name in CHAIN:
                with contextlib.suppress(httpx.HTTPError):
                    value = await self.in_flight(name)
                    self._sampled.in_flight.setdefault(name, []).append(value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)

    def traffic_scale(self) -> float:
        """How much more than the grader's own quotes service-a held in flight during the load:
        1 when the grader's load was alone; 2 when the drill's load doubled it (each quote then
        waits behind twice as many in line: Little's law)."""
        median = self._sampled.median("service-a")
        if median is None:
            return 1.0
        return max(1.0, (median - 1) / self.concurrency)  # less the grader's own scrape

    def latency_bound(self, run: LoadRun) -> float:
        """The spec's P99_BOUND_S, scaled by the traffic in flight; or, when the machine is slow
        for every quote but the line still moves (a mean below CHAIN_TIMEOUT_S), TAIL_FACTOR
        times the mean."""
        bound = P99_BOUND_S * self.traffic_scale()
        mean = statistics.fmean(run.latencies) if run.latencies else float("inf")
        if mean < self.timeout_s:
            bound = max(bound, TAIL_FACTOR * mean)
        return bound

    async def no_errors_under_load(self) -> Measured:
        _, run = await self.load()
        total = len(run.latencies)
        others = total - run.ok - run.server_errors - run.client_timeouts
        return Measured(
            run.ok == total > 0,
            f"{total} quotes from {run.concurrency} concurrent clients over {run.elapsed_s:.1f} s "
            f"(pool {self.pool}): {run.ok} ok, {run.server_errors} 5xx, "
            f"{run.client_timeouts} client timeouts (> {CLIENT_TIMEOUT_S:g} s), "
            f"{others} other failures",
            "every quote 200; 0 5xx, 0 client timeouts",
            f"statuses {dict(sorted(run.statuses.items()))}",
        )

    async def exact_under_load(self) -> Measured:
        baseline, run = await self.load()
        wrong = baseline.wrong_totals + run.wrong_totals
        answered = baseline.ok + run.ok
        return Measured(
            answered > 0 and not wrong,
            f"{answered - len(wrong)}/{answered} quotes answered 200 under load exact "
            f"({len(wrong)} wrong)",
            "every 200 exact for the customer's tier: no default tier, no skipped discount",
            "; ".join(wrong[:3]),
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
        measured = self._p99_of(run)
        if measured.passed:
            return measured
        # One more load run before failing: a chain that stalls stalls again, while a tail
        # stretched by a neighbour's burst on a shared machine does not come back. The chain
        # recovers before and after it, so the checks after this one see what they would have.
        async with quiet_neighbours():
            await self._recovery_after_load(time.monotonic())
            again = await self._run(self.concurrency, LOAD_S)
            await self._recovery_after_load(time.monotonic())
        second = self._p99_of(again)
        return Measured(
            second.passed,
            f"{measured.measured}; run again: {second.measured}",
            f"{second.expected} in either of two load runs",
        )

    def _p99_of(self, run: LoadRun) -> Measured:
        p99 = percentile(run.latencies, 99) if run.latencies else float("inf")
        p50 = percentile(run.latencies, 50) if run.latencies else float("inf")
        mean = statistics.fmean(run.latencies) if run.latencies else float("inf")
        bound = self.latency_bound(run)
        scale = self.traffic_scale()
        why = ""
        if bound > P99_BOUND_S * scale:
            why = (
                f" (a slow machine: every quote slow, the line moving; {TAIL_FACTOR:g}x the mean, "
                "beyond which quotes stall)"
            )
        elif scale > 1:
            why = f" ({scale:.1f}x the grader's quotes were in flight in service-a)"
        return Measured(
            p99 < bound,
            f"P99 {p99 * 1000:.0f} ms, P50 {p50 * 1000:.0f} ms, mean {mean * 1000:.0f} ms at "
            f"{run.concurrency} concurrent",
            f"P99 < {bound * 1000:.0f} ms{why}",
        )

    async def bulkhead(self) -> Measured:
        """Each service serves at most CHAIN_MAX_CONCURRENCY at once. Measured at the callee, by
        the HTTP layer: service-a holds a worker for each call it makes, so service-b can never
        have more than the pool from it in flight, and service-c no more than service-b's pool,
        however many quotes wait at service-a."""
        await self.load()
        bound = self.pool + IN_FLIGHT_SLACK
        wrong = [
            f"{name} publishes a pool of {size:g}"
            for name, size in self._sampled.pools.items()
            if size is not None and size > self.pool
        ]
        peaks = {name: self._sampled.peak(name) for name in ("service-b", "service-c")}
        for name, peak in peaks.items():
            if peak is None:
                wrong.append(f"no sample of {name}'s requests in flight")
            elif peak > bound:
                wrong.append(f"{name} had {peak:g} requests in flight at once")
        shown = ", ".join(f"{name} {peak:g}" for name, peak in peaks.items() if peak is not None)
        published = ", ".join(
            f"{name} {size:g}" for name, size in self._sampled.pools.items() if size is not None
        )
        return Measured(
            not wrong,
            f"most requests in flight at once with {self.concurrency} quotes at service-a: "
            f"{shown or 'none sampled'}; pools published: {published or 'none'}",
            f"<= {bound} in flight at service-b and at service-c (the pool of {self.pool}, the "
            f"CHAIN_MAX_CONCURRENCY limit, and {IN_FLIGHT_SLACK} for scrapes and replies on their "
            "way); no pool larger",
            "; ".join(wrong),
        )

    async def recovers(self) -> Measured:
        await self.load()
        assert self._recovery is not None
        return self._recovery

    async def _recovery_after_load(self, load_ended: float) -> Measured:
        # The spec's bound, scaled by the other traffic only: one quote at a time is fast on any
        # machine once the chain has recovered, and the load's mean says nothing about that.
        fast_s = P99_BOUND_S * self.traffic_scale()
        in_a_row = 0
        deadline = load_ended + RECOVERY_WINDOW_S
        n = 0
        while time.monotonic() < deadline:
            basket, tier = CASES[n % len(CASES)]
            n += 1
            started = time.perf_counter()
            try:
                response = await self.quote(
                    quote_body(customer_of(tier), basket), timeout=fast_s * 5
                )
                fast = (
                    quote_error(response, total_of(basket, tier)) is None
                    and time.perf_counter() - started < fast_s
                )
            except httpx.TransportError:
                fast = False
            in_a_row = in_a_row + 1 if fast else 0
            if in_a_row >= RECOVERED_AFTER:
                after = time.monotonic() - load_ended
                return Measured(
                    True,
                    f"{RECOVERED_AFTER} exact quotes in a row, each within {fast_s:.1f} s, "
                    f"{after:.1f} s after load stopped",
                    f"within {RECOVERY_WINDOW_S:g} s of the load stopping",
                )
            if not fast:
                await asyncio.sleep(0.5)
        return Measured(
            False,
            f"not recovered {RECOVERY_WINDOW_S:g} s after load stopped",
            f"{RECOVERED_AFTER} exact quotes in a row within {fast_s:.1f} s each",
        )

    # ---- failure drills: service-c hanging, then stopped --------------------------------------

    def _target(self) -> lab.RunningService | None:
        return lab.read_state(self.root).get(TARGET)

    def _not_running(self) -> Measured:
        return Measured(
            False,
            f"{TARGET} is not running in the lab of {self.root}",
            "the lab running (drill up, local or Docker) so the grader can pause, stop and "
            "restart it",
        )

    async def _answer(
        self,
        send: Callable[[], Awaitable[httpx.Response]],
        exact: Callable[[httpx.Response], str | None],
        hang: bool,
    ) -> Outcome:
        """Send one request while service-c is hanging or down and judge its answer: a problem
        from the dependency statuses, or the exact answer (a chain that can price without
        service-c may); never 200 with a wrong total (a silent fallback) and never a hang."""
        started = time.perf_counter()
        try:
            response = await send()
        except httpx.TimeoutException:
            return Outcome(time.perf_counter() - started, "client timeout", False)
        elapsed = time.perf_counter() - started
        if response.status_code == 200:
            wrong = exact(response)
            if wrong is None:
                return Outcome(elapsed, "HTTP 200 exact", True)
            return Outcome(elapsed, f"HTTP 200 {wrong}: a silent fallback", False)
        statuses = HANG_STATUSES if hang else DEPENDENCY_STATUSES
        good = is_problem(response) and response.status_code in statuses
        return Outcome(elapsed, problem_label(response), good)

    def _hung(self, budget_ms: int | None) -> list[Callable[[], Awaitable[Outcome]]]:
        """A quote to service-a and a price to service-b, each sent with the budget (or none)."""
        return [self._hung_quote(budget_ms), self._hung_prices(budget_ms)]

    def _hung_quote(self, budget_ms: int | None) -> Callable[[], Awaitable[Outcome]]:
        basket, tier = BASKETS[1], "gold"
        headers = {} if budget_ms is None else {DEADLINE_HEADER: str(budget_ms)}

        async def send() -> Outcome:
            body = quote_body(customer_of(tier), basket)
            return await self._answer(
                lambda: self.quote(body, headers=headers),
                lambda response: quote_error(response, total_of(basket, tier)),
                hang=True,
            )

        return send

    def _hung_prices(self, budget_ms: int | None) -> Callable[[], Awaitable[Outcome]]:
        basket, tier = BASKETS[0], "silver"
        headers = {} if budget_ms is None else {DEADLINE_HEADER: str(budget_ms)}

        async def send() -> Outcome:
            body = quote_body(customer_of(tier), basket) | {"tier": tier}
            return await self._answer(
                lambda: self.post("service-b", "/v1/prices", body, headers),
                lambda response: prices_error(response, basket, tier),
                hang=True,
            )

        return send

    async def budgets(self) -> Measured:
        """Pause service-c (SIGSTOP, or `docker compose pause`): it accepts connections and
        never answers. Service-b, called as a chain service with a budget, must answer within
        it. Quotes sent to service-a with a budget may be answered within it or within
        service-a's own CHAIN_TIMEOUT_S (a client's chain headers are service-a's to honour or
        ignore), but once service-a has answered, service-b must hold nothing more for them:
        the deadline travels. Without a budget, both answer within CHAIN_TIMEOUT_S. The budget
        and the work left behind need workers free for the grader's requests: with other traffic
        in the chain (outside a drill, whose load is paused here) they wait behind it in line,
        so only CHAIN_TIMEOUT_S is graded then, and the scorecard says so."""
        if self._target() is None:
            return self._not_running()
        budget_s = BUDGET_MS / 1000
        forwarded = [self._hung_quote(BUDGET_MS) for _ in range(BUDGET_QUOTES)]
        direct = self._hung_prices(BUDGET_MS)
        untimed = self._hung(None)
        left: float | None = None
        after: list[Outcome] = []
        async with quiet_neighbours():
            quiet = await self._quiet()
            await asyncio.to_thread(self._pause, True)
            try:
                if quiet:
                    *quotes, priced = await asyncio.gather(*(s() for s in [*forwarded, direct]))
                    await asyncio.sleep(ORPHAN_GRACE_S)
                    left = await self.in_flight("service-b") - 1  # less the grader's scrape
                    without = await asyncio.gather(*(send() for send in untimed))
                    # Six calls to service-c have now timed out in a row: the next ones must not
                    # wait for it again (a breaker, spec: after 5 failures in a row).
                    after = await asyncio.gather(*(send() for send in self._hung(None)))
                else:
                    *quotes, priced, q, p = await asyncio.gather(
                        *(send() for send in [*forwarded, direct, *untimed])
                    )
                    without = [q, p]
            finally:
                await asyncio.to_thread(self._pause, False)
        limit = self.timeout_s + TIMEOUT_SLACK_S
        budget_limit = budget_s + BUDGET_SLACK_S if quiet else limit
        everything = [*quotes, priced, *without, *after]
        wrong = [o.label for o in everything if not o.good]
        slowest_quote = max(o.elapsed_s for o in quotes)
        slowest = max(o.elapsed_s for o in without)
        if priced.elapsed_s > budget_limit:
            wrong.append(f"service-b took {priced.elapsed_s:.1f} s for a {budget_s:g} s budget")
        if max(slowest_quote, slowest) > limit:
            wrong.append(f"{max(slowest_quote, slowest):.1f} s for an answer")
        waited = max((o.elapsed_s for o in after), default=0.0)
        if waited > FAIL_FAST_S:
            wrong.append(
                f"{waited:.1f} s for an answer after {BUDGET_QUOTES + 3} calls to {TARGET} had "
                "timed out: still waited on"
            )
        if left is not None and left > QUIET_IN_FLIGHT - 1:
            wrong.append(
                f"service-b still held {left:g} requests {ORPHAN_GRACE_S:g} s after service-a "
                "had answered them"
            )
        labels = sorted({o.label for o in everything})
        measured = (
            f"service-b answered a {budget_s:g} s budget in {priced.elapsed_s:.2f} s; "
            f"service-a its budgeted quotes in {slowest_quote:.2f} s; without a budget "
            f"{slowest:.2f} s; {', '.join(labels)}"
        )
        if left is not None:
            measured += (
                f"; service-b afterwards: {left:g} requests in flight; the next quote and price "
                f"answered in {waited:.2f} s"
            )
        else:
            measured += (
                "; other traffic held the chain's workers, so budgets were held to "
                f"CHAIN_TIMEOUT_S ({self.timeout_s:g} s) only"
            )
        return Measured(
            not wrong,
            measured,
            f"503/504 problem+json (or the exact answer): service-b within {budget_s:g} + "
            f"{BUDGET_SLACK_S:g} s for a {budget_s:g} s budget, everything within {limit:g} s; "
            "nothing left running at service-b once service-a has answered; after 6 timeouts "
            f"in a row, answers within {FAIL_FAST_S:g} s",
            "; ".join(dict.fromkeys(wrong)),
        )

    async def _quiet(self) -> bool:
        """Whether nobody but the grader uses service-a and service-b, waiting QUIET_WAIT_S at
        most for requests in flight to finish (a load just paused leaves some)."""
        deadline = time.monotonic() + QUIET_WAIT_S
        while True:
            if all([await self.in_flight(name) <= QUIET_IN_FLIGHT for name in ENTRY_ROUTES]):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)

    def _pause(self, paused: bool) -> None:
        """Freeze or thaw service-c: SIGSTOP/SIGCONT to its process group (local lab), `docker
        compose pause/unpause` (Docker lab)."""
        target = self._target()
        if target is None:
            return
        if lab.read_mode(self.root) == lab.DOCKER:
            argv = [*lab.Compose.from_state(self.root).argv, "unpause" if not paused else "pause"]
            subprocess.run(  # noqa: S603 - fixed argv, no shell
                [*argv, TARGET],
                capture_output=True,
                timeout=PAUSE_COMMAND_TIMEOUT_S,
                check=False,
            )
            return
        if target.pid > 0:  # 0 or less would signal our own group, or everyone
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(target.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    async def fails_fast(self) -> Measured:
        running = lab.read_state(self.root)
        if TARGET not in running:
            return self._not_running()
        basket, tier = BASKETS[2], "silver"
        want = total_of(basket, tier)

        async def one() -> Outcome:
            body = quote_body(customer_of(tier), basket)
            return await self._answer(
                lambda: self.quote(body), lambda response: quote_error(response, want), False
            )

        # A time bound: measured without the drill's load, as the latency checks are.
        async with quiet_neighbours():
            await asyncio.to_thread(lab.stop, self.root, {TARGET: running[TARGET]})
            try:
                outcomes = await self.gathered(
                    (one() for _ in range(FAIL_FAST_REQUESTS)), FAIL_FAST_CONCURRENCY
                )
            finally:
                await asyncio.to_thread(lab.start, self.root, [TARGET], progress=lambda _line: None)
        back = await self._back_after_restart()
        slowest = max((o.elapsed_s for o in outcomes), default=float("inf"))
        bad = sorted({o.label for o in outcomes if not o.good})
        # Quotes wait in service-a's line behind other traffic (the drill's load) before they can
        # fail: the bound scales with it, as the latency bounds do.
        fast_s = FAIL_FAST_S * self.traffic_scale()
        ok = not bad and slowest < fast_s and back is not None
        return Measured(
            ok,
            f"{len(outcomes)} quotes: slowest answered in {slowest:.2f} s; "
            f"{', '.join(sorted({o.label for o in outcomes}))}; "
            + (f"quotes work again {back:.1f} s after restart" if back is not None else "")
            + ("" if back is not None else f"no quote works {RESTART_WINDOW_S:g} s after restart"),
            f"every answer within {fast_s:.1f} s: 502/503/504 problem+json with error_code "
            "and trace_id (or the exact total); quotes work again once it is back",
            f"not as expected: {bad}" if bad else "",
        )

    async def _back_after_restart(self) -> float | None:
        started = time.monotonic()
        basket, tier = BASKETS[0], "bronze"
        while time.monotonic() - started < RESTART_WINDOW_S:
            body = quote_body(customer_of(tier), basket)
            try:
                response = await self.quote(body, timeout=self.timeout_s)
                if quote_error(response, total_of(basket, tier)) is None:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
        return None


async def grade(root: Path, report: Reporter | None = None) -> Scorecard:
    """Grade the chain the lab serves."""
    limits = httpx.Limits(max_connections=MAX_LOAD_CONCURRENCY + 32)
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_S, limits=limits) as http:
        for name in CHAIN:
            await require_ready(http, name, SERVICES[name].url)
        return await run_checks("circular-deadlock", Grader(root, http).checks(), report)


SCENARIO = Scenario(
    id="circular-deadlock",
    codename="quote-timeouts",
    title="Checkout quotes hang, then fail, at the evening peak",
    services=CHAIN,
    symptoms=frozenset({NO_ERRORS, THROUGHPUT, P99_CHECK, RECOVERS}),
    grade=grade,
)
