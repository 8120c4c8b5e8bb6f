"""The n-plus-one grader fails the poisoned orders service, passes the reference fix and the
alternatives its answer key accepts, and fails plausible wrong fixes, each for the right reasons.
Every case runs on one real lab for the module (`shared_lab`): a wrong fix is the reference fix
edited in place, served by a restarted orders service."""

from pathlib import Path

import pytest

from tests.conftest import drill, failed, restart_services, rewrite, running_drill, verify_json

pytestmark = pytest.mark.slow

ANSWERS = "batches and pages match the seeded orders and catalog prices"
MONEY = "orders worth trillions keep every cent"
FLOAT = "money never passes through float in services/orders"
BOUNDARIES = "inputs outside the contract are refused before any query"
COLD = "cold prices: one catalog call per 500 SKUs, on both routes"
STATEMENTS = "DB statements per request constant, batch 1-500 users, page 1-50"
ROWS = "rows read per request follow what is shown, not the history"
CACHED = "a repeated request is priced from cache"
OUTAGE = "catalog hanging or down: honest errors, never a wrong price"
STUCK = "a stuck database query does not stall other requests"
P99 = "P99 < 200 ms for batches of 100 users under load, answers right"
STALL = "cheap requests stay fast while large batches run"
ALL = {
    ANSWERS,
    MONEY,
    FLOAT,
    BOUNDARIES,
    COLD,
    STATEMENTS,
    ROWS,
    CACHED,
    OUTAGE,
    STUCK,
    P99,
    STALL,
}

ORDERS = Path("services") / "orders"
APP = ORDERS / "app.py"
HISTORY = ORDERS / "history.py"
PRICING = ORDERS / "pricing.py"
BATCH = ORDERS / "api" / "routes" / "orders.py"
PAGE = ORDERS / "api" / "routes" / "users.py"


def solved_with(tree: Path, *edits: tuple[Path, str, str]) -> None:
    """The reference fix with the given (file, old, new) edits, served by a restarted orders."""
    assert drill(tree, "solve", "n-plus-one").returncode == 0
    for path, old, new in edits:
        rewrite(tree / path, old, new)
    restart_services(tree, "orders")


def poisoned_with(tree: Path, *edits: tuple[Path, str, str]) -> None:
    """The poisoned code with the given (file, old, new) edits, served by a restarted orders."""
    for path, old, new in edits:
        rewrite(tree / path, old, new)
    restart_services(tree, "orders")


def grade(tree: Path, *only: str) -> tuple[int, set[str]]:
    """(exit code, failed checks) of `drill verify n-plus-one`: every check, or only the named
    ones (a wrong fix is graded by the checks that must catch it, and those it must not trip)."""
    code, checks = verify_json(tree, "n-plus-one", checks=only)
    assert set(checks) == (set(only) or ALL)
    return code, failed(checks)


def test_poisoned_code_fails_on_every_planted_fault(shared_lab: Path) -> None:
    code, failures = grade(shared_lab)

    assert code == 1
    # The answers are right, to the cent: the fault is the cost of getting them, and the grader
    # must say so without blaming what works.
    assert failures == ALL - {ANSWERS, MONEY, FLOAT}


def test_reference_fix_passes_every_check(shared_lab: Path) -> None:
    solved_with(shared_lab)

    code, failures = grade(shared_lab)

    assert failures == set()
    assert code == 0


@pytest.mark.soak
def test_reference_fix_passes_ten_verifies_under_the_drills_own_load(shared_lab: Path) -> None:
    """Every count the grader judges is its own requests' (Server-Timing), and its cold prices
    are ones the drill's load never asks for: with the drill's Locust load running (paused only
    while the latency checks measure), the reference fix passes every time."""
    with running_drill(shared_lab, "n-plus-one"):
        solved_with(shared_lab)
        outcomes = [grade(shared_lab) for _ in range(10)]

    assert [failures for _, failures in outcomes] == [set()] * 10
    assert [code for code, _ in outcomes] == [0] * 10


# ---- accepted alternatives ----------------------------------------------------------------------


def test_accepts_orders_and_lines_in_one_joined_query(shared_lab: Path) -> None:
    """Another shape of constant queries: the latest orders joined to their lines, two statements
    a batch instead of three, rows one per line."""
    solved_with(
        shared_lab,
        (
            HISTORY,
            "    orders = [(order_id, user_id) for order_id, user_id in session.execute(latest)]\n"
            "    return [u for u in wanted if u in known], _with_lines(session, orders)\n",
            "    newest = latest.subquery()\n"
            "    joined = (\n"
            "        select(newest.c.id, newest.c.user_id, OrderLine.sku, OrderLine.quantity)\n"
            "        .join(OrderLine, OrderLine.order_id == newest.c.id)\n"
            "        .order_by(newest.c.user_id, newest.c.id.desc(), OrderLine.id)\n"
            "        .limit(len(wanted) * RECENT_ORDERS * MAX_LINES_PER_ORDER)\n"
            "    )\n"
            "    grouped: dict[tuple[int, int], list[LineRow]] = {}\n"
            "    for order_id, user_id, sku, quantity in session.execute(joined):\n"
            "        grouped.setdefault((order_id, user_id), []).append(LineRow(sku, quantity))\n"
            "    orders = [OrderRows(o, u, tuple(lines)) for (o, u), lines in grouped.items()]\n"
            "    return [u for u in wanted if u in known], orders\n",
        ),
    )

    code, failures = grade(shared_lab)

    assert failures == set()
    assert code == 0


def test_accepts_a_one_second_catalog_timeout_answering_503(shared_lab: Path) -> None:
    """Giving up on a hanging catalog sooner is a choice, as long as the answer says so: 503
    problem+json with Retry-After, not a made-up price."""
    solved_with(
        shared_lab,
        (
            APP,
            "async_catalog_client(settings.catalog_url, settings.catalog_timeout_s)",
            "async_catalog_client(settings.catalog_url, 1.0)",
        ),
    )

    code, failures = grade(shared_lab)

    assert failures == set()
    assert code == 0


# ---- class 3: cost that grows with history ------------------------------------------------------


def test_rejects_every_order_loaded_and_sliced_in_python(shared_lab: Path) -> None:
    """Three statements whatever the batch, but the orders query has no per-user bound: every
    order of every user is read, and the newest five kept in Python. A reseller's 800 orders
    cost 800 rows each time."""
    solved_with(
        shared_lab,
        (
            HISTORY,
            "    orders = [(order_id, user_id) for order_id, user_id in session.execute(latest)]\n",
            "    everything = select(Order.id, Order.user_id).where(Order.user_id.in_(wanted))\n"
            "    newest: dict[int, list[tuple[int, int]]] = {}\n"
            "    for order_id, user_id in session.execute(everything.order_by(Order.id.desc())):\n"
            "        newest.setdefault(user_id, []).append((order_id, user_id))\n"
            "    orders = [row for rows in newest.values() for row in rows[:RECENT_ORDERS]]\n",
        ),
    )

    code, failures = grade(shared_lab, ROWS)

    assert code == 1
    assert failures == {ROWS}


def test_rejects_page_sliced_in_python(shared_lab: Path) -> None:
    """The page query lost its LIMIT: every older order is read to show a page of five."""
    solved_with(
        shared_lab,
        (
            HISTORY,
            "    rows = [(o, u) for o, u in session.execute("
            "query.order_by(Order.id.desc()).limit(limit + 1))]\n",
            "    rows = [(o, u) for o, u in session.execute(query.order_by(Order.id.desc()))]"
            "[: limit + 1]\n",
        ),
    )

    code, failures = grade(shared_lab, ROWS)

    assert code == 1
    assert failures == {ROWS}


# ---- class 4: a silent fallback -----------------------------------------------------------------


def test_rejects_zero_prices_when_the_catalog_is_slow(shared_lab: Path) -> None:
    """A slow catalog must not hang the dashboard, so after a second the fix stops waiting and
    prices what is missing at 0.00: 200 OK, wrong totals."""
    solved_with(
        shared_lab,
        (
            PRICING,
            '            response = await self.client.post("/v1/products/batch", '
            'json={"skus": skus})\n',
            "            try:\n"
            "                response = await asyncio.wait_for(\n"
            '                    self.client.post("/v1/products/batch", json={"skus": skus}),\n'
            "                    timeout=1.0,\n"
            "                )\n"
            "            except TimeoutError:\n"
            "                return dict.fromkeys(skus, Decimal(0))\n",
        ),
    )

    code, failures = grade(shared_lab, OUTAGE)

    assert code == 1
    assert failures == {OUTAGE}


def test_rejects_unpriced_lines_shown_as_zero_when_the_catalog_is_down(shared_lab: Path) -> None:
    """The order history must show even when the catalog is down: prices it cannot get are
    shown as 0.00 instead of an error."""
    solved_with(
        shared_lab,
        (
            PRICING,
            "        except httpx.HTTPError as exc:\n            raise Problem(\n",
            "        except httpx.HTTPError:\n"
            "            return {}\n"
            "        except ValueError as exc:\n"
            "            raise Problem(\n",
        ),
        (
            PRICING,
            "        unknown = wanted - found.keys()\n",
            "        unknown: set[str] = set()\n",
        ),
        (
            HISTORY,
            "        unit_price = prices[line.sku]\n",
            "        unit_price = prices.get(line.sku, Decimal(0))\n",
        ),
    )

    code, failures = grade(shared_lab, OUTAGE)

    assert code == 1
    assert failures == {OUTAGE}


def test_rejects_empty_orders_for_a_batch_that_finds_another_running(shared_lab: Path) -> None:
    """Load shedding that lies: a batch that arrives while another is being built answers at once
    with no users, 200 OK, instead of waiting or answering 503."""
    solved_with(
        shared_lab,
        (
            BATCH,
            '@router.post("/batch", response_model=BatchOut, '
            "responses={422: {}, 502: {}, 503: {}})\n"
            "async def batch(body: BatchIn, session: SessionDep, prices: PricesDep) -> Response:\n"
            '    """Each user\'s most recent orders, priced through the catalog."""\n',
            "_running = [0]\n\n\n"
            '@router.post("/batch", response_model=BatchOut, '
            "responses={422: {}, 502: {}, 503: {}})\n"
            "async def batch(body: BatchIn, session: SessionDep, prices: PricesDep) -> Response:\n"
            '    """Each user\'s most recent orders, priced through the catalog."""\n'
            "    if _running[0]:\n"
            "        empty = BatchOut(users=[]).model_dump_json()\n"
            '        return Response(empty, media_type="application/json")\n'
            "    _running[0] += 1\n"
            "    try:\n"
            "        return await _batch(body, session, prices)\n"
            "    finally:\n"
            "        _running[0] -= 1\n\n\n"
            "async def _batch(\n"
            "    body: BatchIn, session: SessionDep, prices: PricesDep\n"
            ") -> Response:\n",
        ),
    )

    code, failures = grade(shared_lab, P99)

    assert code == 1
    assert failures == {P99}


# ---- class 6: trust boundaries -----------------------------------------------------------------


def test_rejects_page_limit_without_a_maximum(shared_lab: Path) -> None:
    """The rewritten page route dropped the maximum: any client may ask for a whole history."""
    solved_with(
        shared_lab,
        (
            PAGE,
            "limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,",
            "limit: Annotated[int, Query(ge=1)] = DEFAULT_PAGE,",
        ),
    )

    code, failures = grade(shared_lab, BOUNDARIES)

    assert code == 1
    assert failures == {BOUNDARIES}


def test_rejects_a_page_size_parameter_honoured(shared_lab: Path) -> None:
    """A convenience the contract does not have: `per_page` overrides `limit`, unbounded."""
    solved_with(
        shared_lab,
        (
            PAGE,
            '    cursor: Annotated[str | None, Query(pattern=r"^\\d{1,18}$")] = None,\n',
            '    cursor: Annotated[str | None, Query(pattern=r"^\\d{1,18}$")] = None,\n'
            "    per_page: int | None = None,\n",
        ),
        (
            PAGE,
            '    """The user\'s orders, newest first, `limit` at a time, priced through the '
            'catalog."""\n',
            '    """The user\'s orders, newest first, `limit` at a time, priced through the '
            'catalog."""\n'
            "    limit = per_page or limit\n",
        ),
    )

    code, failures = grade(shared_lab, BOUNDARIES)

    assert code == 1
    assert failures == {BOUNDARIES}


def test_rejects_ids_past_the_integer_range_answering_500(shared_lab: Path) -> None:
    """Ids are INTEGER columns: an id or cursor past 2**31 - 1 reaches the database, which refuses
    to compare it, and the client gets a 500 instead of 404 or an empty answer."""
    solved_with(
        shared_lab,
        (
            HISTORY,
            "    wanted = [u for u in dict.fromkeys(user_ids) if 0 < u <= MAX_ID]\n",
            "    wanted = list(dict.fromkeys(user_ids))\n",
        ),
        (
            HISTORY,
            "    if not 0 < user_id <= MAX_ID or session.get(User, user_id) is None:\n",
            "    if session.get(User, user_id) is None:\n",
        ),
        (
            HISTORY,
            "    if cursor is not None and cursor <= MAX_ID:\n",
            "    if cursor is not None:\n",
        ),
    )

    code, failures = grade(shared_lab, BOUNDARIES)

    assert code == 1
    assert failures == {BOUNDARIES}


# ---- class 7: the same fault on another route ---------------------------------------------------


def test_rejects_batch_route_fixed_page_route_left_as_it_was(shared_lab: Path) -> None:
    """The dashboard's batch is fixed; the single-user page still loads every order lazily and
    prices it a line at a time."""
    solved_with(
        shared_lab,
        (
            PAGE,
            "from services.orders.schemas import OrderPage\n",
            "from services.orders.models import User\n"
            "from services.orders.schemas import OrderPage\n",
        ),
        (
            PAGE,
            "    found = await run_in_threadpool(\n"
            "        lambda: history.orders_page(\n"
            "            session, user_id=user_id, limit=limit, "
            "cursor=int(cursor) if cursor else None\n"
            "        )\n"
            "    )\n"
            "    if found is None:\n",
            "    user = session.get(User, user_id)\n    if user is None:\n",
        ),
        (
            PAGE,
            "    orders, next_cursor = found\n"
            "    unit_prices = await prices.unit_prices(history.skus_of(orders))\n"
            "    return OrderPage(\n"
            "        user_id=user_id,\n"
            "        orders=[history.priced(o, unit_prices) for o in orders],\n"
            "        next_cursor=next_cursor,\n"
            "    )\n",
            "    newest = sorted(user.orders, key=lambda o: o.id, reverse=True)\n"
            "    if cursor is not None:\n"
            "        newest = [o for o in newest if o.id < int(cursor)]\n"
            "    page = newest[:limit]\n"
            "    shown = []\n"
            "    for order in page:\n"
            "        lines = tuple(history.LineRow(x.sku, x.quantity) for x in order.lines)\n"
            "        unit_prices = {}\n"
            "        for line in lines:\n"
            "            unit_prices |= await prices.unit_prices({line.sku})\n"
            "        rows = history.OrderRows(order.id, user_id, lines)\n"
            "        shown.append(history.priced(rows, unit_prices))\n"
            "    next_cursor = str(page[-1].id) if len(newest) > limit else None\n"
            "    return OrderPage(user_id=user_id, orders=shown, next_cursor=next_cursor)\n",
        ),
    )

    code, failures = grade(shared_lab, COLD, STATEMENTS, ROWS, ANSWERS)

    assert code == 1
    assert {COLD, STATEMENTS, ROWS} <= failures
    assert ANSWERS not in failures


def test_rejects_catalog_asked_once_per_order(shared_lab: Path) -> None:
    """Prices fetched in batches, but one batch per order: a 100-user dashboard makes hundreds of
    catalog calls whenever its prices are not cached."""
    solved_with(
        shared_lab,
        (
            BATCH,
            "    unit_prices = await prices.unit_prices(history.skus_of(orders))\n",
            "    unit_prices = {}\n"
            "    for order in orders:\n"
            "        unit_prices |= await prices.unit_prices(history.skus_of([order]))\n",
        ),
    )

    code, failures = grade(shared_lab, COLD, P99)

    assert code == 1
    assert failures == {COLD, P99}


# ---- class 8: money -----------------------------------------------------------------------------


def test_rejects_amounts_computed_in_float(shared_lab: Path) -> None:
    """Unit prices turned into floats, amounts and totals computed in float and shown to two
    places: right for every ordinary order, wrong by cents on large ones."""
    solved_with(
        shared_lab,
        (HISTORY, "    items, total = [], Decimal(0)\n", "    items, total = [], 0.0\n"),
        (
            HISTORY,
            "        unit_price = prices[line.sku]\n",
            "        unit_price = float(prices[line.sku])\n",
        ),
        (HISTORY, "unit_price=cents(unit_price),", 'unit_price=f"{unit_price:.2f}",'),
        (HISTORY, "amount=cents(amount),", 'amount=f"{amount:.2f}",'),
        (HISTORY, "total=cents(total),", 'total=f"{total:.2f}",'),
    )

    code, failures = grade(shared_lab, MONEY, FLOAT)

    assert code == 1
    assert failures == {MONEY, FLOAT}


def test_rejects_totals_kept_in_cents_and_divided_by_100(shared_lab: Path) -> None:
    """No float anywhere in sight: the total is whole cents, divided by 100 for display. True
    division makes it a float, and past 2**53 cents one that cannot hold every cent."""
    solved_with(
        shared_lab,
        (HISTORY, "total=cents(total),", 'total=f"{int(total * 100) / 100:.2f}",'),
    )

    code, failures = grade(shared_lab, MONEY)

    assert code == 1
    assert failures == {MONEY}


# ---- the first ideas under pressure ------------------------------------------------------------


def test_rejects_batched_queries_with_a_blocking_call_per_sku(shared_lab: Path) -> None:
    """The database half of the fix alone: three queries per batch, but each missing SKU still
    priced by a blocking call inside the async handler, which stalls the whole process."""
    solved_with(
        shared_lab,
        (
            PRICING,
            "    async def _fetch(self, skus: list[str]) -> dict[str, Decimal]:\n",
            "    blocking = httpx.Client()\n\n"
            "    def _fetch_blocking(self, sku: str) -> dict[str, Decimal]:\n"
            '        url = self.client.base_url.join(f"/v1/products/{sku}")\n'
            '        return {sku: Decimal(self.blocking.get(url).json()["price"])}\n\n'
            "    async def _fetch(self, skus: list[str]) -> dict[str, Decimal]:\n",
        ),
        (
            PRICING,
            "pages = await asyncio.gather(*(self._fetch(chunk) for chunk in chunks))",
            "pages = [self._fetch_blocking(sku) for sku in missing]",
        ),
    )

    code, failures = grade(shared_lab, COLD, OUTAGE, ANSWERS, STATEMENTS, ROWS)

    assert code == 1
    assert {COLD, OUTAGE} <= failures
    assert not failures & {ANSWERS, STATEMENTS, ROWS}


def test_rejects_a_price_cache_without_batching(shared_lab: Path) -> None:
    """The first idea under pressure: remember each price. Repeats get cheap, but every new SKU
    is still one blocking call, and every user still costs its own queries."""
    poisoned_with(
        shared_lab,
        (
            PRICING,
            "class CatalogPrices:",
            "_PRICES: dict[str, Decimal] = {}\n\n\nclass CatalogPrices:",
        ),
        (
            PRICING,
            '''        """The catalog's current price of one product."""\n''',
            '''        """The catalog's current price of one product."""\n'''
            "        if sku in _PRICES:\n"
            "            return _PRICES[sku]\n",
        ),
        (
            PRICING,
            """        return Decimal(response.json()["price"])""",
            """        _PRICES[sku] = Decimal(response.json()["price"])\n"""
            """        return _PRICES[sku]""",
        ),
    )

    code, failures = grade(shared_lab, COLD, STATEMENTS, CACHED)

    assert code == 1
    assert failures == {COLD, STATEMENTS}


def test_rejects_handlers_moved_off_the_loop_with_a_call_per_line(shared_lab: Path) -> None:
    """`def` handlers run in the thread pool, so the loop is free and cheap requests stay fast;
    but every user and order still costs a query, and every line a catalog call."""
    poisoned_with(
        shared_lab,
        (BATCH, "async def batch(", "def batch("),
        (PAGE, "async def list_orders(", "def list_orders("),
    )

    code, failures = grade(
        shared_lab, BOUNDARIES, COLD, STATEMENTS, ROWS, CACHED, ANSWERS, MONEY, FLOAT
    )

    assert code == 1
    assert {BOUNDARIES, COLD, STATEMENTS, ROWS, CACHED} <= failures
    assert not failures & {ANSWERS, MONEY, FLOAT}


def test_rejects_database_work_left_on_the_event_loop(shared_lab: Path) -> None:
    """Everything else of the fix, but the batch's queries run straight in the async handler:
    a few milliseconds each, invisible in latency on a quiet database; while a query waits on
    a lock, the whole service waits with it."""
    solved_with(
        shared_lab,
        (
            BATCH,
            "    known, orders = await run_in_threadpool(\n"
            "        lambda: history.recent_orders(session, user_ids=body.user_ids)\n"
            "    )\n",
            "    known, orders = history.recent_orders(session, user_ids=body.user_ids)\n",
        ),
    )

    code, failures = grade(shared_lab, STUCK)

    assert code == 1
    assert failures == {STUCK}


# ---- classes 9, 10, 11: mechanism, per request, cold --------------------------------------------


def test_rejects_prices_fetched_one_sku_at_a_time_in_parallel(shared_lab: Path) -> None:
    """Non-blocking and concurrent, so quick enough on an idle machine: one GET per missing SKU,
    all at once. The catalog sees hundreds of calls per dashboard."""
    solved_with(
        shared_lab,
        (
            PRICING,
            "(self._fetch(chunk) for chunk in chunks)",
            "(self._fetch_one(sku) for sku in missing)",
        ),
        (
            PRICING,
            "    async def _fetch(self, skus: list[str]) -> dict[str, Decimal]:\n",
            "    async def _fetch_one(self, sku: str) -> dict[str, Decimal]:\n"
            '        response = await self.client.get(f"/v1/products/{sku}")\n'
            "        response.raise_for_status()\n"
            '        return {sku: Decimal(response.json()["price"])}\n\n'
            "    async def _fetch(self, skus: list[str]) -> dict[str, Decimal]:\n",
        ),
    )

    code, failures = grade(shared_lab, COLD)

    assert code == 1
    assert failures == {COLD}


def test_rejects_whole_catalog_cached_at_start_and_never_refreshed(shared_lab: Path) -> None:
    """Every price fetched once when the service starts and kept for good: no request ever asks
    the catalog again, so nothing shows how a request would, and prices never change."""
    solved_with(
        shared_lab,
        (
            APP,
            "        app.state.prices = CatalogPrices(client, PriceCache())\n",
            "        app.state.prices = CatalogPrices(client, PriceCache(ttl_s=10**9))\n"
            "        await app.state.prices.unit_prices(\n"
            '            f"SKU-{n:05d}" for n in range(1, 25_001)\n'
            "        )\n",
        ),
    )

    code, failures = grade(shared_lab, COLD, OUTAGE)

    assert code == 1
    assert failures == {COLD, OUTAGE}
