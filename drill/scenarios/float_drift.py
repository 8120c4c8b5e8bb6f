"""The `float-drift` grader: black-box over HTTP against the running billing service, plus a
static check that money never passes through float in the billing code."""

import ast
import asyncio
import json
import math
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from drill import lab
from drill.grading import (
    Check,
    Measured,
    Reporter,
    Scorecard,
    describe_runs,
    load_runs,
    metric_samples,
    percentile,
    quiet_neighbours,
    require_ready,
    run_checks,
)
from drill.scenarios import Scenario
from drill.services import SERVICES

# The seeded accounts the grader relies on, kept here rather than imported from the billing code a
# team edits (an edit there must not move what the grader expects). A test checks they still
# match services/billing/seed.py.
HEAVY_USERS = (
    "377e6ff8-8e83-4961-ae84-3b2c7e96ba87",
    "4b17653e-5213-4cb1-a833-7be0cf4b4d1f",
    "0718c1a4-b173-41da-8dd1-73e9522aeca5",
)
HEAVY_USER_TRANSACTIONS = 3_000
LONGEST_HISTORY_USER = "10adf348-2c4b-4d89-9344-7cbaed90dafc"
LONGEST_HISTORY_TRANSACTIONS = 30_000
P99_SLO_S = 0.200
LOAD_REQUESTS = 320
# Four at a time: at eight, two cores measure the CPU, not the ledger (docs/grading/float-drift.md).
LOAD_CONCURRENCY = 4
LOAD_ATTEMPTS = 3
NOISE_BOUND_S = 2 * P99_SLO_S
# Billing's reconciliation job reads the whole ledger every RECONCILE_INTERVAL_MS (15 s in the lab)
# and for a second or two slows every request beside it, on any code: a load run starts only when
# the next job run is this far off (a run takes about 3 s here), waiting at most RECONCILE_WAIT_S.
RECONCILE_CLEARANCE_S = 6.0
RECONCILE_WAIT_S = 30.0
DIMES = 300
AWKWARD = ["0.01", "19.99", "0.07", "0.29", "33.33", "1234.56", "0.10", "7.77", "2.50", "0.03"]
# Fifty of the largest charge the contract allows, then cents: beyond 2**53 cents a float cannot
# hold every cent, and no display rounding brings them back.
LARGE = ["9999999999999.99"] * 50 + ["0.01", "0.07", "0.29"]
# Float spelled any way SQLAlchemy, pydantic or Python let you spell it.
# Concurrent writers: how many at once, and how many writes, when the grader looks for races.
RACE_CONCURRENCY = 24
RACE_CHARGES = 240
DUPLICATE_KEYS = 4
DUPLICATES_PER_KEY = 16
# The cost check: requests per kind (interleaved, one at a time) and how much slower the account
# with ten times the heavy accounts' history may be than a new one. An O(1) balance measures
# about 1.0x; one that sums the account's history about 4x and more at 30,000 entries.
COST_ROUNDS = 30
# A cost that grows with history shows within a few rounds; an O(n) ledger on 30,000 entries takes
# a second a request, so the check stops once it has COST_MIN_ROUNDS and has spent its budget.
COST_MIN_ROUNDS = 5
COST_BUDGET_S = 8.0
COST_RATIO_ALLOWED = 2.0
COST_SLACK_S = 0.002
HISTORY_PAGE = 3
MAX_PAGE = 100
# Checks of what concurrent writers do: proven only on a database where they can interleave.
CONCURRENT_DUPLICATES = "concurrent duplicates bill once"
CONCURRENT_CHARGES = "concurrent charges to one account all count"
RACE_CHECKS = frozenset({CONCURRENT_DUPLICATES, CONCURRENT_CHARGES})
# Checks of what the page already says (latency) or of any service's contract: shown in full
# before the team's diagnosis is right.
BAD_INPUT = "bad input is 422 and stores nothing"
FOREIGN_FIELDS = "fields outside the contract are never honoured"
AUTH = "tokens and roles are enforced"
P99_CHECK = f"P99 < {P99_SLO_S * 1000:.0f} ms under load on long histories"
FLOAT_NAMES = frozenset({"float", "Float", "REAL", "Double", "DOUBLE", "DOUBLE_PRECISION"})


@dataclass
class LoadRun:
    """One burst of load and what the clients saw."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    accepted: list[tuple[dict[str, Any], Any]] = field(default_factory=list)  # (body, answer)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    @property
    def doomed(self) -> bool:
        """Enough requests over the SLO already to put the P99 over it: the rest are not sent."""
        over = sum(latency >= P99_SLO_S for latency in self.latencies)
        return over > LOAD_REQUESTS - math.ceil(LOAD_REQUESTS * 0.99)

    @property
    def passed(self) -> bool:
        complete = len(self.latencies) == LOAD_REQUESTS
        return complete and self.p99 < P99_SLO_S and self.errors == 0

    @property
    def noise_sized(self) -> bool:
        return self.p99 < NOISE_BOUND_S and self.errors == 0

    @property
    def summary(self) -> str:
        stopped = (
            f"stopped after {len(self.latencies)} of {LOAD_REQUESTS} requests, "
            if len(self.latencies) < LOAD_REQUESTS
            else ""
        )
        p50 = percentile(self.latencies, 50)
        return (
            f"{stopped}P99 {self.p99 * 1000:.0f} ms, P50 {p50 * 1000:.0f} ms, "
            f"{self.errors} errors, {len(self.latencies) / self.elapsed:.0f} req/s"
        )


class BillingClient:
    """The billing API as a client sees it."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        writer = os.environ.get("BILLING_WRITER_TOKEN", "drill-lab-writer")
        reader = os.environ.get("BILLING_READER_TOKEN", "drill-lab-reader")
        self.writer = {"Authorization": f"Bearer {writer}"}
        self.reader = {"Authorization": f"Bearer {reader}"}

    async def post(
        self, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST /v1/transactions with the writer token (or the given headers)."""
        return await self.http.post(
            f"{self.url}/v1/transactions",
            json=body,
            headers=self.writer if headers is None else headers,
        )

    async def post_raw(self, content: str) -> httpx.Response:
        """POST a body exactly as given (for inputs json.dumps would not write)."""
        headers = {**self.writer, "Content-Type": "application/json"}
        return await self.http.post(f"{self.url}/v1/transactions", content=content, headers=headers)

    async def balance_response(self, user_id: str) -> httpx.Response:
        """GET the user's balance, whatever the answer."""
        return await self.http.get(f"{self.url}/v1/users/{user_id}/balance", headers=self.reader)

    async def balance(self, user_id: str) -> dict[str, Any]:
        """GET the user's balance; raises on anything but 200."""
        response = await self.balance_response(user_id)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def next_reconciliation(self) -> tuple[float, float] | None:
        """(when the next reconciliation run starts, when the last one ended), Unix time, 0 for
        not yet; None when billing's metrics do not say."""
        try:
            response = await self.http.get(f"{self.url}/metrics", timeout=5.0)
            response.raise_for_status()
        except httpx.HTTPError:
            return None
        next_run = metric_samples(
            response.text, "billing_reconciliation_next_run_timestamp_seconds"
        )
        ended = metric_samples(
            response.text, "billing_reconciliation_last_success_timestamp_seconds"
        )
        if not next_run:
            return None
        return next_run[0][1], ended[0][1] if ended else 0.0

    async def between_reconciliations(self, clearance_s: float) -> None:
        """Wait until no reconciliation run is due within `clearance_s` (RECONCILE_CLEARANCE_S).
        Returns at once when billing does not say, or runs the job more often than that."""
        deadline = time.monotonic() + RECONCILE_WAIT_S
        while time.monotonic() < deadline:
            schedule = await self.next_reconciliation()
            if schedule is None:
                return
            next_run, ended = schedule
            if ended and next_run - ended < clearance_s:
                return
            if next_run - time.time() >= clearance_s:
                return
            await asyncio.sleep(0.1)

    async def history(self, user_id: str, params: dict[str, str | int]) -> httpx.Response:
        """GET a page of the user's transactions."""
        return await self.http.get(
            f"{self.url}/v1/users/{user_id}/transactions", params=params, headers=self.reader
        )


def charge(user_id: str, amount: str, request_id: str | None = None) -> dict[str, Any]:
    """A well-formed body; `update` (a correction) where the amount is negative."""
    return {
        "user_id": user_id,
        "action": "update" if amount.startswith("-") else "create",
        "amount": amount,
        "metadata": {"grader": "float-drift"},
        "request_id": request_id or f"grader-{uuid.uuid4()}",
    }


async def gather_limited(jobs: Sequence[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    """Run the jobs with at most `limit` in flight; results in job order."""
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


def new_user() -> str:
    """A fresh account, so every run grades on a clean slate."""
    return str(uuid.uuid4())


def cents(total: Decimal) -> str:
    """A Decimal as the wire shows money."""
    return f"{total:.2f}"


def float_uses(root: Path) -> list[str]:
    """Every place the billing code names a float type or writes a float literal, in file order."""
    found: list[tuple[str, int, str]] = []
    for path in sorted((root / "services" / "billing").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            named = (isinstance(node, ast.Name) and node.id in FLOAT_NAMES) or (
                isinstance(node, ast.Attribute) and node.attr in FLOAT_NAMES
            )
            literal = isinstance(node, ast.Constant) and isinstance(node.value, float)
            if named or literal:
                where = path.relative_to(root).as_posix()
                found.append((where, getattr(node, "lineno", 0), ast.unparse(node)))
    return [f"{where}:{line} {text}" for where, line, text in sorted(found)]


class Grader:
    """Every check of the float-drift drill."""

    def __init__(self, root: Path, billing: BillingClient) -> None:
        self.root = root
        self.billing = billing

    def checks(self) -> list[tuple[str, Check]]:
        """The checks, in the order the scorecard lists them."""
        return [
            ("money never passes through float", self.no_float),
            (f"0.10 charged {DIMES} times is exactly {cents(DIMES * Decimal('0.10'))}", self.dimes),
            ("awkward amounts sum exactly, each step", self.awkward),
            ("large amounts keep every cent", self.large),
            ("history lists every amount exactly, page by page", self.history),
            ("a replayed request_id bills once", self.replay),
            ("a replay after later writes returns the first answer", self.late_replay),
            (CONCURRENT_DUPLICATES, self.concurrent_duplicates),
            (CONCURRENT_CHARGES, self.concurrent_charges),
            ("request_id reused with another body is 409", self.key_reuse),
            (BAD_INPUT, self.bad_input),
            (FOREIGN_FIELDS, self.foreign_fields),
            (AUTH, self.auth),
            ("cost does not grow with an account's history", self.cost_flat),
            (P99_CHECK, self.p99),
        ]

    async def no_float(self) -> Measured:
        uses = float_uses(self.root)
        shown = "; ".join(uses[:4]) + (f"; ... {len(uses) - 4} more" if len(uses) > 4 else "")
        return Measured(
            not uses,
            f"{len(uses)} float uses in services/billing",
            "0",
            shown,
        )

    async def dimes(self) -> Measured:
        user = new_user()
        responses = await gather_limited(
            [partial(self.billing.post, charge(user, "0.10")) for _ in range(DIMES)], 8
        )
        failures = sum(r.status_code != 200 for r in responses)
        got = await self.billing.balance(user)
        want = cents(DIMES * Decimal("0.10"))
        ok = got["balance"] == want and got["transaction_count"] == DIMES and not failures
        return Measured(
            ok,
            f"balance {got['balance']!r}, {got['transaction_count']} transactions, "
            f"{failures} failed posts",
            f"{want!r}, {DIMES} transactions",
        )

    async def awkward(self) -> Measured:
        user = new_user()
        expected = Decimal(0)
        for amount in [*AWKWARD, *AWKWARD, "-0.03", "-19.99"]:
            expected += Decimal(amount)
            response = await self.billing.post(charge(user, amount))
            reported = response.json().get("balance") if response.status_code == 200 else None
            if reported != cents(expected):
                return Measured(
                    False,
                    f"after {amount}: balance {reported!r} (HTTP {response.status_code})",
                    repr(cents(expected)),
                )
        final = (await self.billing.balance(user))["balance"]
        return Measured(
            final == cents(expected),
            f"balance {final!r}",
            repr(cents(expected)),
        )

    async def large(self) -> Measured:
        user = new_user()
        await gather_limited([partial(self.billing.post, charge(user, a)) for a in LARGE], 8)
        want = cents(sum((Decimal(a) for a in LARGE), Decimal(0)))
        got = (await self.billing.balance(user))["balance"]
        return Measured(got == want, f"balance {got!r}", repr(want))

    async def history(self) -> Measured:
        user = new_user()
        posted = [charge(user, amount) for amount in [*AWKWARD, "9999999999999.99", "-0.07"]]
        for body in posted:
            await self.billing.post(body)
        listed: list[dict[str, Any]] = []
        wrong: list[str] = []
        cursor: str | None = None
        for _ in range(len(posted)):
            params: dict[str, str | int] = {"limit": HISTORY_PAGE}
            if cursor is not None:
                params["cursor"] = cursor
            response = await self.billing.history(user, params)
            if response.status_code != 200:
                wrong.append(f"page {len(listed) // HISTORY_PAGE + 1}: HTTP {response.status_code}")
                break
            page = response.json()
            if len(page.get("items", [])) > HISTORY_PAGE:
                wrong.append(f"a page of limit={HISTORY_PAGE} held {len(page['items'])} items")
            listed += page.get("items", [])
            cursor = page.get("next_cursor")
            if cursor is None:
                break
        got = [(item.get("request_id"), item.get("amount")) for item in listed]
        want = [(body["request_id"], body["amount"]) for body in posted]
        if got != want:
            floats = [a for _, a in got if not isinstance(a, str)]
            wrong.append(
                f"{len(got)} entries listed, {sum(g == w for g, w in zip(got, want, strict=False))}"
                f" of {len(want)} as posted, in order"
                + (f"; amounts as JSON numbers: {floats[:3]}" if floats else "")
            )
        for limit in (0, MAX_PAGE + 1):
            status = (await self.billing.history(user, {"limit": limit})).status_code
            if status != 422:
                wrong.append(f"limit={limit}: HTTP {status}")
        return Measured(
            not wrong,
            "; ".join(wrong) or f"{len(got)} entries, oldest first, amounts as posted",
            f"{len(want)} entries oldest first, amount strings as posted, {HISTORY_PAGE} a page; "
            f"limit outside 1..{MAX_PAGE} is 422",
        )

    async def late_replay(self) -> Measured:
        user = new_user()
        first_body = charge(user, "10.00")
        first = await self.billing.post(first_body)
        await self.billing.post(charge(user, "2.50"))
        await self.billing.post(charge(user, "-1.25"))
        again = await self.billing.post(first_body)
        got = await self.billing.balance(user)
        same = first.status_code == again.status_code == 200 and first.json() == again.json()
        shown = again.json().get("balance") if again.status_code == 200 else again.status_code
        ok = same and got["transaction_count"] == 3 and got["balance"] == "11.25"
        return Measured(
            ok,
            f"replay answered balance {shown!r} (first answer {first.json().get('balance')!r}), "
            f"{'identical' if same else 'different'}; account {got['balance']!r}, "
            f"{got['transaction_count']} transactions",
            "the first answer again, identical ('10.00'); account '11.25', 3 transactions",
        )

    async def concurrent_charges(self) -> Measured:
        user = new_user()
        amounts = [AWKWARD[n % len(AWKWARD)] for n in range(RACE_CHARGES)]
        amounts += ["-0.01"] * (RACE_CHARGES // 10)
        responses = await gather_limited(
            [partial(self.billing.post, charge(user, a)) for a in amounts], RACE_CONCURRENCY
        )
        accepted = [a for a, r in zip(amounts, responses, strict=True) if r.status_code == 200]
        statuses = sorted({r.status_code for r in responses})
        want = cents(sum((Decimal(a) for a in accepted), Decimal(0)))
        got = await self.billing.balance(user)
        ok = (
            len(accepted) == len(amounts)
            and got["balance"] == want
            and got["transaction_count"] == len(amounts)
        )
        return Measured(
            ok,
            f"{len(amounts)} charges, {RACE_CONCURRENCY} at a time: HTTP {statuses}; balance "
            f"{got['balance']!r}, {got['transaction_count']} transactions",
            f"all 200; balance {want!r} (the sum of every charge), {len(amounts)} transactions",
        )

    async def foreign_fields(self) -> Measured:
        user = new_user()
        planted = str(uuid.uuid4())
        body = {
            **charge(user, "3.00"),
            "data_id": planted,
            "balance": "1000000.00",
            "transaction_count": 0,
            "status": 200,
            "timestamp": "2001-01-01T00:00:00Z",
            "trace_id": "0" * 32,
        }
        response = await self.billing.post(body)
        got = await self.billing.balance(user)
        answer = response.json() if response.status_code == 200 else {}
        honoured = [
            name
            for name, value in (
                ("data_id", planted),
                ("balance", "1000000.00"),
                ("trace_id", "0" * 32),
            )
            if answer.get(name) == value
        ]
        if str(answer.get("timestamp", "")).startswith("2001"):
            honoured.append("timestamp")
        if response.status_code == 200:
            ok = not honoured and got["balance"] == "3.00" and got["transaction_count"] == 1
        else:
            ok = response.status_code == 422 and got["transaction_count"] == 0
        return Measured(
            ok,
            f"HTTP {response.status_code}; honoured: {', '.join(honoured) or 'nothing'}; "
            f"account {got['balance']!r}, {got['transaction_count']} transactions",
            "the extra fields ignored (a fresh data_id, balance '3.00') or the body refused "
            "with 422; nothing stored from them",
        )

    async def cost_flat(self) -> Measured:
        """Reads and charges on the account with the longest history against a new account,
        interleaved one at a time so that whatever else loads the machine weighs on both."""
        longest = (await self.billing.balance(LONGEST_HISTORY_USER))["transaction_count"]
        if longest < LONGEST_HISTORY_TRANSACTIONS:
            return Measured(
                False,
                f"the longest seeded account holds only {longest} transactions",
                f">= {LONGEST_HISTORY_TRANSACTIONS} (start the lab with its seed history)",
            )
        fresh = new_user()
        await self.billing.post(charge(fresh, "1.00"))
        async with quiet_neighbours():
            timings = await self._cost_timings(fresh)
        median = {key: percentile(values, 50) for key, values in timings.items()}
        worse = [
            kind
            for kind in ("read", "charge")
            if median[f"{kind} long"] > COST_RATIO_ALLOWED * median[f"{kind} new"] + COST_SLACK_S
        ]
        shown = ", ".join(
            f"{kind}: {median[f'{kind} long'] * 1000:.1f} ms vs {median[f'{kind} new'] * 1000:.1f}"
            " ms" + f" ({median[f'{kind} long'] / median[f'{kind} new']:.1f}x)"
            for kind in ("read", "charge")
        )
        return Measured(
            not worse,
            f"median on {longest} entries vs a new account: {shown}",
            f"at most {COST_RATIO_ALLOWED:g}x (+{COST_SLACK_S * 1000:.0f} ms) a new account's",
        )

    async def _cost_timings(self, fresh: str) -> dict[str, list[float]]:
        """Seconds per request, by kind: reads and charges, on the new and the long account."""
        timings: dict[str, list[float]] = {}
        started = time.perf_counter()
        for done in range(COST_ROUNDS):
            if done >= COST_MIN_ROUNDS and time.perf_counter() - started > COST_BUDGET_S:
                break
            for account, label in ((fresh, "new"), (LONGEST_HISTORY_USER, "long")):
                for kind in ("read", "charge"):
                    start = time.perf_counter()
                    if kind == "read":
                        response = await self.billing.balance_response(account)
                    else:
                        response = await self.billing.post(charge(account, "0.01"))
                    timings.setdefault(f"{kind} {label}", []).append(
                        time.perf_counter() - start if response.status_code == 200 else math.inf
                    )
        return timings

    async def replay(self) -> Measured:
        user = new_user()
        body = charge(user, "12.30")
        first, second = [await self.billing.post(body) for _ in range(2)]
        got = await self.billing.balance(user)
        same = first.status_code == second.status_code == 200 and first.json() == second.json()
        ok = same and got["transaction_count"] == 1 and got["balance"] == "12.30"
        return Measured(
            ok,
            f"{got['transaction_count']} transactions, balance {got['balance']!r}, "
            f"second response {'identical' if same else 'different'}",
            "1 transaction, '12.30', the first response again",
        )

    async def concurrent_duplicates(self) -> Measured:
        user = new_user()
        bodies = [charge(user, "7.77") for _ in range(DUPLICATE_KEYS)]
        jobs = [partial(self.billing.post, body) for body in bodies] * DUPLICATES_PER_KEY
        responses = await gather_limited(jobs, RACE_CONCURRENCY)
        statuses = sorted({r.status_code for r in responses})
        ids = {r.json().get("data_id") for r in responses if r.status_code == 200}
        got = await self.billing.balance(user)
        want = cents(Decimal("7.77") * DUPLICATE_KEYS)
        ok = statuses == [200] and len(ids) == DUPLICATE_KEYS
        ok = ok and got["transaction_count"] == DUPLICATE_KEYS and got["balance"] == want
        return Measured(
            ok,
            f"{DUPLICATE_KEYS} request_ids each posted {DUPLICATES_PER_KEY} times at once: "
            f"HTTP {statuses}, {len(ids)} data_ids, {got['transaction_count']} transactions, "
            f"balance {got['balance']!r}",
            f"all 200, {DUPLICATE_KEYS} data_ids, {DUPLICATE_KEYS} transactions, {want!r}",
        )

    async def key_reuse(self) -> Measured:
        user, other = new_user(), new_user()
        request_id = f"grader-{uuid.uuid4()}"
        first_body = charge(user, "5.00", request_id)
        first = await self.billing.post(first_body)
        reuses = {
            "another amount": charge(user, "6.00", request_id),
            "another account": charge(other, "5.00", request_id),
            "other metadata": {**first_body, "metadata": {"grader": "someone else"}},
            "a correction": {**first_body, "action": "update"},
        }
        outcomes = {}
        for label, body in reuses.items():
            response = await self.billing.post(body)
            problem = response.headers.get("content-type", "").startswith(
                "application/problem+json"
            )
            code = response.json().get("error_code") if problem else None
            outcomes[label] = (
                response.status_code,
                code,
                bool(problem and response.json().get("trace_id")),
            )
        again = await self.billing.post(first_body)
        got, theirs = await self.billing.balance(user), await self.billing.balance(other)
        wrong = [
            f"{label}: HTTP {status} {code or 'not problem+json'}"
            for label, (status, code, traced) in outcomes.items()
            if (status, code, traced) != (409, "idempotency_key_reused", True)
        ]
        if again.status_code != 200 or again.json() != first.json():
            wrong.append(f"the first body again: HTTP {again.status_code}, not the first answer")
        if (got["balance"], got["transaction_count"]) != ("5.00", 1):
            wrong.append(f"account {got['balance']!r}, {got['transaction_count']} transactions")
        if theirs["transaction_count"]:
            wrong.append(f"the other account was charged {theirs['balance']!r}")
        return Measured(
            not wrong,
            "; ".join(wrong) or "every reuse 409 idempotency_key_reused; first answer kept",
            "409 problem+json idempotency_key_reused with trace_id for another amount, account, "
            "metadata or action; the first body still gets the first answer; '5.00', 1 "
            "transaction; the other account untouched",
        )

    async def bad_input(self) -> Measured:
        user = new_user()
        good = charge(user, "1.00")
        bad_amounts: list[Any] = [12.34, "NaN", "Infinity", "1e3", "0.001", "12.345", "abc", ""]
        cases: list[tuple[str, str]] = [
            (f"amount={a!r}", json.dumps({**good, "amount": a})) for a in bad_amounts
        ]
        cases += [
            ("no user_id", json.dumps({k: v for k, v in good.items() if k != "user_id"})),
            ("user_id not a UUID", json.dumps({**good, "user_id": "42"})),
            ("user_id UUIDv1", json.dumps({**good, "user_id": str(uuid.uuid1())})),
            ("action='delete'", json.dumps({**good, "action": "delete"})),
            ("metadata value not a string", json.dumps({**good, "metadata": {"k": 1}})),
            ("empty request_id", json.dumps({**good, "request_id": ""})),
            ("request_id of 129 characters", json.dumps({**good, "request_id": "r" * 129})),
            ("request_id with a control character", json.dumps({**good, "request_id": "a\nb"})),
            ("14 integer digits", json.dumps({**good, "amount": "12345678901234.00"})),
            ("a charge of -1.00", json.dumps({**good, "amount": "-1.00"})),
            ("a charge of 0.00", json.dumps({**good, "amount": "0.00"})),
            ("a correction of 0.00", json.dumps({**good, "action": "update", "amount": "0.00"})),
            (
                "21 metadata entries",
                json.dumps({**good, "metadata": {f"k{n}": "v" for n in range(21)}}),
            ),
            (
                "metadata value of 257 characters",
                json.dumps({**good, "metadata": {"k": "v" * 257}}),
            ),
            ("not JSON", "{amount: 1"),
        ]
        accepted = []
        for label, content in cases:
            response = await self.billing.post_raw(content)
            problem = response.headers.get("content-type", "").startswith(
                "application/problem+json"
            )
            if response.status_code != 422 or not problem:
                accepted.append(f"{label} -> {response.status_code}")
        stored = (await self.billing.balance(user))["transaction_count"]
        return Measured(
            not accepted and stored == 0,
            f"{len(cases) - len(accepted)}/{len(cases)} rejected with 422, {stored} stored",
            f"{len(cases)}/{len(cases)} rejected, 0 stored",
            "; ".join(accepted),
        )

    async def auth(self) -> Measured:
        user = new_user()
        body = charge(user, "1.00")
        attempts = {
            "no token": {},
            "unknown token": {"Authorization": "Bearer nope"},
            "reader posts": self.billing.reader,
        }
        outcomes = {
            label: (await self.billing.post(body, headers=headers)).status_code
            for label, headers in attempts.items()
        }
        invalid = {**body, "amount": 1.5}
        outcomes["no token, invalid body"] = (
            await self.billing.post(invalid, headers={})
        ).status_code
        want = {"no token": 401, "unknown token": 401, "reader posts": 403}
        want["no token, invalid body"] = 401
        stored = (await self.billing.balance(user))["transaction_count"]
        return Measured(
            outcomes == want and stored == 0,
            ", ".join(f"{k} {v}" for k, v in outcomes.items()) + f"; {stored} stored",
            ", ".join(f"{k} {v}" for k, v in want.items()) + "; 0 stored",
        )

    async def p99(self) -> Measured:
        heavy = list(HEAVY_USERS)
        history = min([(await self.billing.balance(u))["transaction_count"] for u in heavy])
        if history < HEAVY_USER_TRANSACTIONS:
            return Measured(
                False,
                f"seeded accounts hold only {history} transactions",
                f">= {HEAVY_USER_TRANSACTIONS} (start the lab with its seed history)",
            )
        # The O(n) ledger misses by several times the SLO: it never earns a second run.
        async with quiet_neighbours():
            runs = await load_runs(partial(self._load_run, heavy), LOAD_ATTEMPTS)
        # Answering 200 is not enough: every accepted charge must have been written. Replaying
        # each one proves it from the grader's own requests (other clients may be charging the
        # same accounts): a charge that was kept answers its first answer again; one that was
        # not is written now, under a new data_id.
        accepted = [entry for run in runs for entry in run.accepted]
        replays = await gather_limited(
            [partial(self.billing.post, body) for body, _ in accepted], LOAD_CONCURRENCY
        )
        lost = sum(
            again.status_code != 200 or again.json() != first
            for (_, first), again in zip(accepted, replays, strict=True)
        )
        return Measured(
            runs[-1].passed and not lost,
            describe_runs(runs) + f"; {lost} of {len(accepted)} accepted charges not kept",
            f"P99 < {P99_SLO_S * 1000:.0f} ms, 0 errors "
            f"({LOAD_CONCURRENCY} concurrent, {history}+ transactions per account), and every "
            "accepted charge kept (its replay answers the first answer)",
        )

    async def _load_run(self, heavy: list[str]) -> LoadRun:
        """LOAD_REQUESTS requests, half charges and half balance reads, on the long histories."""
        await self.billing.between_reconciliations(RECONCILE_CLEARANCE_S)
        run = LoadRun()

        async def one(n: int) -> None:
            if run.doomed:
                return
            user = heavy[n % len(heavy)]
            start = time.perf_counter()
            if n % 2:
                body = charge(user, "0.99")
                response = await self.billing.post(body)
                if response.status_code == 200:
                    run.accepted.append((body, response.json()))
            else:
                response = await self.billing.balance_response(user)
            run.latencies.append(time.perf_counter() - start)
            run.errors += response.status_code != 200

        started = time.perf_counter()
        await gather_limited([partial(one, n) for n in range(LOAD_REQUESTS)], LOAD_CONCURRENCY)
        run.elapsed = time.perf_counter() - started
        return run


async def grade(root: Path, report: Reporter | None = None) -> Scorecard:
    """Grade the billing service the lab serves, and the billing code in `root`."""
    url = SERVICES["billing"].url
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
        await require_ready(http, "billing", url)
        grader = Grader(root, BillingClient(http, url))
        return await run_checks(
            "float-drift", grader.checks(), report, lab.read_database(root), RACE_CHECKS
        )


SCENARIO = Scenario(
    id="float-drift",
    codename="ledger-mismatch",
    title="Billing balances do not reconcile; a customer was charged twice",
    services=("billing",),
    symptoms=frozenset({BAD_INPUT, FOREIGN_FIELDS, AUTH, P99_CHECK}),
    grade=grade,
)
