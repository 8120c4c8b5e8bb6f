"""The circular-deadlock grader fails the poisoned chain, passes the reference fix and the
alternatives the answer key accepts, and fails plausible wrong fixes, each for the right reasons.
One lab serves the whole module (`shared_lab`): each test edits the chain, restarts only the
chain's services, and the committed code is put back after it. The failure drills pause, stop and
restart service-c only, so they need no lab of their own."""

from pathlib import Path

import pytest

from tests.conftest import (
    REPO,
    drill,
    failed,
    restart_services,
    rewrite,
    running_drill,
    verify_json,
)

pytestmark = pytest.mark.slow

ID = "circular-deadlock"
EXACT = "quotes are exact decimal strings at low load"
MONEY = "pricing and loyalty answer exact decimal strings"
NO_CYCLE = "nothing calls back upstream: the call graph is a line"
TRUST = "fields and headers a client may not set change nothing"
HOP_GUARDS = "hops refuse a spent budget and a request that came back"
NO_ERRORS = "no timeouts and no 5xx at 4x the pool, sustained"
EXACT_UNDER_LOAD = "every quote under load is exact"
THROUGHPUT = "throughput at 4x the pool holds"
P99 = "P99 at 4x the pool < 2 s"
BULKHEAD = "the worker pools still bound the work under load"
RECOVERS = "the chain recovers by itself once load stops"
BUDGETS = "service-c hanging: every hop answers within its budget"
FAILS_FAST = "service-c stopped: callers fail fast with problem+json"
ALL = {
    EXACT,
    MONEY,
    NO_CYCLE,
    TRUST,
    HOP_GUARDS,
    NO_ERRORS,
    EXACT_UNDER_LOAD,
    THROUGHPUT,
    P99,
    BULKHEAD,
    RECOVERS,
    BUDGETS,
    FAILS_FAST,
}
# What a deadlocking chain fails under the grader's load, whatever else it gets right.
DEADLOCK = {NO_ERRORS, THROUGHPUT, P99}
CHAIN = Path("services") / "chain"
ROUTES = CHAIN / "api" / "routes"
SERVICE_NAMES = ("service-a", "service-b", "service-c")


# How the reference fix's service-c answers: the discount of the tier it was sent.
DISCOUNT_ANSWER = (
    "        return DiscountOut(\n"
    "            tier=body.tier, "
    "discount=cents(discount_for(Decimal(body.subtotal), body.tier))\n"
    "        )\n"
)


def optional_tier(tree: Path) -> None:
    """The reference fix's service-b and service-c bodies, with the tier optional."""
    schemas = tree / CHAIN / "schemas.py"
    optional = "    tier: Tier | None = None\n"
    rewrite(schemas, "    # has to ask service-a back.\n    tier: Tier\n", optional)
    rewrite(schemas, "    subtotal: Money\n    tier: Tier\n", "    subtotal: Money\n" + optional)


def solve(tree: Path) -> None:
    """Apply the reference fix (drill solve restarts the chain)."""
    result = drill(tree, "solve", ID)
    assert result.returncode == 0, result.stdout + result.stderr


def restart_chain(tree: Path) -> None:
    """Serve the tree's edited chain code."""
    restart_services(tree, *SERVICE_NAMES)


def grade(tree: Path, *only: str) -> tuple[int, dict[str, bool]]:
    """`drill verify circular-deadlock --json`: every check, or only the named ones (a wrong fix
    is graded by the checks that must catch it, and those it must not trip)."""
    code, checks = verify_json(tree, ID, checks=only)
    assert set(checks) == (set(only) or ALL)
    return code, checks


# ---- the poisoned chain and the reference fix ---------------------------------------------------


def test_poisoned_code_fails_on_every_planted_fault(shared_lab: Path) -> None:
    """The cycle (calls back upstream, deadlock under load), no deadline (budgets ignored, hops
    unguarded) and no fail-fast (retries on a dead callee) each fail their checks. At low load the
    chain answers right: the grader must not blame what works."""
    code, checks = grade(shared_lab)

    assert code == 1
    assert {EXACT, MONEY, TRUST} <= set(checks) - failed(checks)
    assert {NO_CYCLE, HOP_GUARDS, BUDGETS, FAILS_FAST} | DEADLOCK <= failed(checks)


def test_reference_fix_passes_every_check(shared_lab: Path) -> None:
    solve(shared_lab)

    code, checks = grade(shared_lab)

    assert failed(checks) == set()
    assert code == 0


@pytest.mark.soak
def test_reference_fix_passes_ten_verifies_under_the_drills_own_load(shared_lab: Path) -> None:
    """As during a drill (`drill start`): Locust runs the scenario's load against the lab while
    the team verifies, paused only while the load, hang and fail-fast checks measure time. A
    correct fix passes every time, whatever else hits the lab."""
    with running_drill(shared_lab, ID):
        solve(shared_lab)
        runs = [grade(shared_lab) for _ in range(10)]

    failures = [sorted(failed(checks)) for _, checks in runs if failed(checks)]
    assert failures == []
    assert [code for code, _ in runs] == [0] * 10


# ---- wrong fixes: the cycle kept, or the bulkhead gone (class 5) ------------------------------


def test_rejects_a_bigger_pool_alone(shared_lab: Path) -> None:
    """The commonest wrong fix: more workers. The grader loads at four times the environment's
    CHAIN_MAX_CONCURRENCY (8), not the pool a fix publishes, and the cycle still deadlocks."""
    rewrite(
        shared_lab / CHAIN / "settings.py",
        "chain_max_concurrency: int = Field(default=8,",
        "chain_max_concurrency: int = Field(default=32,",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, EXACT, NO_CYCLE, BULKHEAD, HOP_GUARDS, BUDGETS, FAILS_FAST)

    assert code == 1
    assert checks[EXACT]
    # At 32 quotes for 32 workers the pools may not fill at once (a client's next quote comes a
    # moment after its last): the load checks may pass; the structure and the pool size do not.
    assert {NO_CYCLE, BULKHEAD, HOP_GUARDS, BUDGETS, FAILS_FAST} <= failed(checks)


def test_rejects_shorter_timeouts_alone(shared_lab: Path) -> None:
    """Failing sooner is not serving: the cycle still deadlocks, now ending in 504s each second."""
    rewrite(
        shared_lab / CHAIN / "settings.py",
        "chain_timeout_s: float = Field(default=5.0,",
        "chain_timeout_s: float = Field(default=1.0,",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, EXACT, NO_CYCLE, NO_ERRORS, THROUGHPUT)

    assert code == 1
    assert checks[EXACT]
    assert {NO_CYCLE, NO_ERRORS, THROUGHPUT} <= failed(checks)


def test_rejects_unbounded_pools_keeping_the_cycle(shared_lab: Path) -> None:
    """No deadlock without a bulkhead: every pool admits everyone (its gauge still says 8). The
    load checks may pass; the cycle is still there and service-b holds every quote at once."""
    rewrite(
        shared_lab / CHAIN / "pool.py",
        "self._slots = asyncio.Semaphore(size)",
        "self._slots = asyncio.Semaphore(100_000)",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, NO_CYCLE, BULKHEAD)

    assert code == 1
    assert {NO_CYCLE, BULKHEAD} <= failed(checks)


def test_rejects_tier_lookup_outside_the_pool(shared_lab: Path) -> None:
    """The answer key's "fetching it without holding a worker": service-a answers the tier
    lookup without a worker, so the lookup never queues and nothing deadlocks. The cycle stays
    (service-c still calls service-a on every quote) and the route has no bulkhead."""
    rewrite(
        shared_lab / ROUTES / "quotes.py",
        "    async with pool.worker(request):\n"
        "        return TierOut(customer_id=customer_id, tier=tier_of(customer_id))",
        "    return TierOut(customer_id=customer_id, tier=tier_of(customer_id))",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, NO_CYCLE, NO_ERRORS, THROUGHPUT, EXACT_UNDER_LOAD)

    assert code == 1
    assert NO_CYCLE in failed(checks)
    # What only the call-graph check sees: under load this chain serves every quote.
    assert checks[NO_ERRORS] and checks[THROUGHPUT] and checks[EXACT_UNDER_LOAD]


def test_rejects_tier_cache_in_loyalty_that_asks_on_a_miss(shared_lab: Path) -> None:
    """The answer key's "caching it in c", as a cache: warm for the drill's load (six customers
    per user), but a customer never seen before still sends service-c back to service-a."""
    discounts = shared_lab / ROUTES / "discounts.py"
    rewrite(
        discounts,
        'router = APIRouter(prefix="/v1", tags=["discounts"])\n',
        'router = APIRouter(prefix="/v1", tags=["discounts"])\nTIERS: dict[object, str] = {}\n',
    )
    rewrite(
        discounts,
        "        tier = TierOut.model_validate(\n"
        '            await customers.call("GET", f"/v1/customers/{body.customer_id}/tier")\n'
        "        ).tier\n",
        "        tier = TIERS.get(body.customer_id)\n"
        "        if tier is None:\n"
        "            tier = TierOut.model_validate(\n"
        '                await customers.call("GET", f"/v1/customers/{body.customer_id}/tier")\n'
        "            ).tier\n"
        "            TIERS[body.customer_id] = tier\n",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, NO_CYCLE, NO_ERRORS)

    assert code == 1
    assert {NO_CYCLE, NO_ERRORS} <= failed(checks)


def test_rejects_reference_fix_with_unbounded_pools(shared_lab: Path) -> None:
    """The cycle is gone, but so is the bulkhead: a pool that admits everyone while its gauge
    says 8. The in-flight count at the callee shows it (quotes then share the CPU all at once
    instead of in line, so on a busy machine their tail may miss the P99 bound too)."""
    solve(shared_lab)
    rewrite(
        shared_lab / CHAIN / "pool.py",
        "self._slots = asyncio.Semaphore(size)",
        "self._slots = asyncio.Semaphore(100_000)",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, BULKHEAD)

    assert code == 1
    assert failed(checks) == {BULKHEAD}


# ---- wrong fixes: a silent fallback (class 4) ----------------------------------------------------


def test_rejects_loyalty_defaulting_to_bronze_when_service_a_is_slow(shared_lab: Path) -> None:
    """The cycle kept, its deadlock cut short: service-c gives service-a 0.2 s for the tier and
    takes bronze when it does not answer. Every quote is 200, and under load silver and gold
    customers pay the bronze price."""
    discounts = shared_lab / ROUTES / "discounts.py"
    rewrite(discounts, "from decimal import", "import asyncio\nfrom decimal import")
    rewrite(
        discounts,
        "        tier = TierOut.model_validate(\n"
        '            await customers.call("GET", f"/v1/customers/{body.customer_id}/tier")\n'
        "        ).tier\n",
        "        try:\n"
        "            tier = TierOut.model_validate(\n"
        "                await asyncio.wait_for(\n"
        '                    customers.call("GET", f"/v1/customers/{body.customer_id}/tier"), 0.2\n'
        "                )\n"
        "            ).tier\n"
        "        except Exception:\n"
        '            tier = "bronze"\n',
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, EXACT_UNDER_LOAD, NO_CYCLE)

    assert code == 1
    assert {EXACT_UNDER_LOAD, NO_CYCLE} <= failed(checks)


def test_rejects_pricing_skipping_the_discount_when_loyalty_fails(shared_lab: Path) -> None:
    """The reference fix, plus "graceful degradation": when loyalty fails, pricing answers
    without a discount. Nothing fails under load (loyalty never does then); with service-c
    hanging or down, silver and gold customers get 200 with the undiscounted total."""
    solve(shared_lab)
    rewrite(
        shared_lab / ROUTES / "prices.py",
        "        discount = DiscountOut.model_validate(\n"
        '            await loyalty.call("POST", "/v1/discounts", '
        'asked.model_dump(mode="json"), hop=hop)\n'
        "        )\n",
        "        try:\n"
        "            discount = DiscountOut.model_validate(\n"
        '                await loyalty.call("POST", "/v1/discounts", '
        'asked.model_dump(mode="json"), hop=hop)\n'
        "            )\n"
        "        except Problem:\n"
        '            discount = DiscountOut(tier=body.tier, discount="0.00")\n',
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, BUDGETS, FAILS_FAST)

    assert code == 1
    assert failed(checks) == {BUDGETS, FAILS_FAST}


# ---- wrong fixes: trust boundaries (class 6) -----------------------------------------------------


def test_rejects_quote_trusting_a_client_supplied_tier(shared_lab: Path) -> None:
    """The reference fix sends the tier down; this one lets the client send it too. Any client
    can now quote itself gold."""
    solve(shared_lab)
    rewrite(
        shared_lab / CHAIN / "schemas.py",
        '    """A checkout to quote (service-a)."""\n\n    customer_id: UUID\n',
        '    """A checkout to quote (service-a)."""\n\n    customer_id: UUID\n'
        "    tier: Tier | None = None\n",
    )
    rewrite(
        shared_lab / ROUTES / "quotes.py",
        "tier=tier_of(body.customer_id)",
        "tier=body.tier or tier_of(body.customer_id)",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, TRUST)

    assert code == 1
    assert failed(checks) == {TRUST}


def test_rejects_forged_chain_headers_that_break_the_service(shared_lab: Path) -> None:
    """Chain headers taken from any client, as the first version of the reference fix did: a
    forged path or a spent budget comes back as a callee's failure and opens service-a's breaker
    for every client; a deadline of "²" (a digit to str.isdigit(), not to int()) is a 500."""
    solve(shared_lab)
    rewrite(
        shared_lab / CHAIN / "downstream.py",
        "if response.status_code >= 500 and not _is_verdict(response):",
        "if response.status_code >= 500:",
    )
    rewrite(
        shared_lab / CHAIN / "hops.py",
        "if not (given.isascii() and given.isdigit()):",
        "if not given.isdigit():",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, TRUST)

    assert code == 1
    assert failed(checks) == {TRUST}


# ---- wrong fixes: a sibling route keeps the fault (class 7) ------------------------------------


def test_rejects_loyalty_asking_service_a_when_no_tier_is_sent(shared_lab: Path) -> None:
    """The tier travels on the quote route only: priced without a tier (service-b's own route,
    called by anyone but service-a), loyalty still asks service-a. Quotes never cycle; the
    dependency does, and a mix of both traffics can deadlock the pools again."""
    solve(shared_lab)
    optional_tier(shared_lab)
    rewrite(shared_lab / CHAIN / "topology.py", '"service-c": None,', '"service-c": "service-a",')
    discounts = shared_lab / ROUTES / "discounts.py"
    rewrite(
        discounts,
        "from services.chain.api.deps import PoolDep",
        "from services.chain.api.deps import DownstreamDep, PoolDep",
    )
    rewrite(
        discounts,
        "from services.chain.schemas import DiscountIn, DiscountOut",
        "from services.chain.schemas import DiscountIn, DiscountOut, TierOut",
    )
    rewrite(
        discounts,
        "hop: HopDep, pool: PoolDep) -> DiscountOut:",
        "hop: HopDep, pool: PoolDep, customers: DownstreamDep) -> DiscountOut:",
    )
    rewrite(
        discounts,
        DISCOUNT_ANSWER,
        "        tier = body.tier\n"
        "        if tier is None:\n"
        "            tier = TierOut.model_validate(\n"
        '                await customers.call("GET", f"/v1/customers/{body.customer_id}/tier", '
        "hop=hop)\n"
        "            ).tier\n"
        "        return DiscountOut(tier=tier, discount=cents(discount_for(Decimal(body.subtotal), "
        "tier)))\n",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, NO_CYCLE)

    assert code == 1
    assert failed(checks) == {NO_CYCLE}


def test_rejects_prices_route_ignoring_the_deadline_it_is_given(shared_lab: Path) -> None:
    """The deadline honoured on the quote route only: service-b's route starts its own full
    CHAIN_TIMEOUT_S whatever budget it was handed, so it keeps waiting on a hanging service-c
    long after its caller gave up."""
    solve(shared_lab)
    prices = shared_lab / ROUTES / "prices.py"
    rewrite(
        prices,
        "from services.chain.hops import HopDep",
        "import time\n\nfrom services.chain.hops import Hop, HopDep",
    )
    rewrite(
        prices,
        "    async with pool.worker(request):\n        hop.ensure_time_left()\n",
        "    async with pool.worker(request):\n"
        "        timeout_s = request.app.state.settings.chain_timeout_s\n"
        "        hop = Hop(hop.service, hop.visited, time.monotonic() + timeout_s)\n",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, BUDGETS)

    assert code == 1
    assert failed(checks) == {BUDGETS}


# ---- wrong fixes: money (class 8) and mechanism (class 9) ------------------------------------


def test_rejects_money_as_float(shared_lab: Path) -> None:
    """Loyalty computes the discount in float (round() is banker's rounding on a binary
    fraction), and service-a answers the total as a JSON number."""
    solve(shared_lab)
    discounts = shared_lab / ROUTES / "discounts.py"
    rewrite(
        discounts,
        "from services.chain.pricing import cents, discount_for",
        "from services.chain.pricing import DISCOUNT_RATES, cents, discount_for",
    )
    rewrite(
        discounts,
        "discount=cents(discount_for(Decimal(body.subtotal), body.tier))",
        'discount=f"{round(float(body.subtotal) * float(DISCOUNT_RATES[body.tier]), 2):.2f}"',
    )
    rewrite(
        shared_lab / CHAIN / "schemas.py",
        "    total: Money\n    trace_id: str | None",
        "    total: float\n    trace_id: str | None",
    )
    rewrite(shared_lab / ROUTES / "quotes.py", "total=priced.total,", "total=float(priced.total),")
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, EXACT, MONEY, EXACT_UNDER_LOAD)

    assert code == 1
    assert {EXACT, MONEY, EXACT_UNDER_LOAD} <= failed(checks)


def test_rejects_deadline_not_passed_downstream(shared_lab: Path) -> None:
    """Every hop honours the budget it is given, but service-a hands service-b none: when
    service-c hangs, service-a answers in time and service-b keeps a worker on each abandoned
    quote for its whole CHAIN_TIMEOUT_S. Only the work left behind shows it."""
    solve(shared_lab)
    rewrite(shared_lab / CHAIN / "hops.py", "            DEADLINE_HEADER: str(budget_ms),\n", "")
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, BUDGETS)

    assert code == 1
    assert failed(checks) == {BUDGETS}


def test_rejects_reference_fix_without_a_breaker(shared_lab: Path) -> None:
    """No circuit breaker: refused connections still fail at once, so a stopped service-c looks
    fine, but a hanging one is waited on by every request, however many timed out before."""
    solve(shared_lab)
    downstream = shared_lab / CHAIN / "downstream.py"
    rewrite(downstream, "import logging\n", "import contextlib\nimport logging\n")
    rewrite(
        downstream,
        "breaker = await self.breakers.get_breaker(self.callee)",
        "breaker = contextlib.AsyncExitStack()",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, BUDGETS)

    assert code == 1
    assert failed(checks) == {BUDGETS}


def test_rejects_broken_cycle_with_the_old_retrying_client(shared_lab: Path) -> None:
    """Half the fix: the tier travels downstream (no cycle, no deadlock), but the client still
    retries refused connections with backoff, has no breaker and passes no deadline. Load is
    fine; a hanging or dead callee is not."""
    solve(shared_lab)
    (shared_lab / CHAIN / "downstream.py").write_text((REPO / CHAIN / "downstream.py").read_text())
    for route in ("quotes.py", "prices.py"):
        rewrite(shared_lab / ROUTES / route, '(mode="json"), hop=hop)', '(mode="json"))')
    restart_chain(shared_lab)

    code, checks = grade(shared_lab, BUDGETS, FAILS_FAST)

    assert code == 1
    assert failed(checks) == {BUDGETS, FAILS_FAST}


# ---- accepted alternatives -----------------------------------------------------------------------


def test_accepts_loyalty_deriving_the_tier_itself(shared_lab: Path) -> None:
    """The answer key's "caching it in c", in the form that breaks the cycle: service-c knows
    the tier of any customer without asking anyone (here it derives it from the id), so no tier
    travels and nothing calls back."""
    solve(shared_lab)
    optional_tier(shared_lab)
    rewrite(shared_lab / ROUTES / "quotes.py", "tier=tier_of(body.customer_id)", "tier=None")
    discounts = shared_lab / ROUTES / "discounts.py"
    rewrite(
        discounts,
        "from services.chain.pricing import cents, discount_for",
        "from services.chain.pricing import cents, discount_for, tier_of",
    )
    rewrite(
        discounts,
        DISCOUNT_ANSWER,
        "        tier = tier_of(body.customer_id)\n"
        "        return DiscountOut(tier=tier, discount=cents(discount_for(Decimal(body.subtotal), "
        "tier)))\n",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab)

    assert failed(checks) == set()
    assert code == 0


def test_accepts_an_edge_ignoring_chain_headers_from_clients(shared_lab: Path) -> None:
    """Service-a, the public edge, does not read X-Chain-* from its clients at all: each quote
    starts a fresh path and a full CHAIN_TIMEOUT_S budget. Forged headers change nothing."""
    solve(shared_lab)
    quotes = shared_lab / ROUTES / "quotes.py"
    rewrite(quotes, "import uuid\n", "import time\nimport uuid\n")
    rewrite(
        quotes,
        "from services.chain.hops import HopDep",
        "from services.chain.hops import Hop, HopDep",
    )
    rewrite(
        quotes,
        "body: QuoteIn, request: Request, hop: HopDep, pool: PoolDep, pricing: DownstreamDep",
        "body: QuoteIn, request: Request, pool: PoolDep, pricing: DownstreamDep",
    )
    rewrite(
        quotes,
        "        hop.ensure_time_left()\n        asked = PriceIn(",
        "        timeout_s = request.app.state.settings.chain_timeout_s\n"
        '        hop = Hop("service-a", (), time.monotonic() + timeout_s)\n'
        "        asked = PriceIn(",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab)

    assert failed(checks) == set()
    assert code == 0


def test_accepts_unknown_quote_fields_refused(shared_lab: Path) -> None:
    """The quote body refuses any field the contract does not have (422), instead of ignoring
    it: either way a forged tier or price changes nothing."""
    solve(shared_lab)
    schemas = shared_lab / CHAIN / "schemas.py"
    rewrite(
        schemas,
        "from pydantic import BaseModel, Field,",
        "from pydantic import BaseModel, ConfigDict, Field,",
    )
    rewrite(
        schemas,
        '    """A checkout to quote (service-a)."""\n',
        '    """A checkout to quote (service-a)."""\n\n'
        '    model_config = ConfigDict(extra="forbid")\n',
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab)

    assert failed(checks) == set()
    assert code == 0


def test_accepts_pricing_applying_the_discount_itself_when_loyalty_fails(
    shared_lab: Path,
) -> None:
    """Graceful degradation done right: when loyalty fails, pricing applies the tier's discount
    itself, so the customer still pays the exact total. Not a silent fallback: nothing wrong is
    answered, and nothing hangs."""
    solve(shared_lab)
    prices = shared_lab / ROUTES / "prices.py"
    rewrite(
        prices,
        "from services.chain.pricing import PRICE_LIST, cents, line_total",
        "from services.chain.pricing import PRICE_LIST, cents, discount_for, line_total",
    )
    rewrite(
        prices,
        "        discount = DiscountOut.model_validate(\n"
        '            await loyalty.call("POST", "/v1/discounts", '
        'asked.model_dump(mode="json"), hop=hop)\n'
        "        )\n",
        "        try:\n"
        "            discount = DiscountOut.model_validate(\n"
        '                await loyalty.call("POST", "/v1/discounts", '
        'asked.model_dump(mode="json"), hop=hop)\n'
        "            )\n"
        "        except Problem:\n"
        "            own = cents(discount_for(subtotal, body.tier))\n"
        "            discount = DiscountOut(tier=body.tier, discount=own)\n",
    )
    restart_chain(shared_lab)

    code, checks = grade(shared_lab)

    assert failed(checks) == set()
    assert code == 0
