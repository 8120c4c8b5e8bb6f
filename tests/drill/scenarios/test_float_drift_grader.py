"""The float-drift grader fails the poisoned billing service, passes the reference fix and the
alternatives the answer key accepts, and fails plausible wrong fixes, each for the right reasons.

One lab serves the whole module (`shared_lab`): each test edits the tree, restarts billing alone,
and the fixture puts the committed code back afterwards. The lab runs on PostgreSQL where one
answers (CI has one), so the race checks can fail; on SQLite they are reported as not proven.
"""

import os
from pathlib import Path

import pytest

from drill import lab
from drill.scenarios import float_drift
from services.billing import seed
from tests.conftest import (
    drill,
    failed,
    restart_services,
    rewrite,
    running_drill,
    verify_json,
)

pytestmark = pytest.mark.slow

FLOAT = "money never passes through float"
DIMES = "0.10 charged 300 times is exactly 30.00"
AWKWARD = "awkward amounts sum exactly, each step"
LARGE = "large amounts keep every cent"
HISTORY = "history lists every amount exactly, page by page"
REPLAY = "a replayed request_id bills once"
LATE_REPLAY = "a replay after later writes returns the first answer"
DUPLICATES = "concurrent duplicates bill once"
CHARGES = "concurrent charges to one account all count"
REUSE = "request_id reused with another body is 409"
BAD_INPUT = "bad input is 422 and stores nothing"
FOREIGN = "fields outside the contract are never honoured"
AUTH = "tokens and roles are enforced"
COST = "cost does not grow with an account's history"
P99 = "P99 < 200 ms under load on long histories"
ALL = {
    FLOAT,
    DIMES,
    AWKWARD,
    LARGE,
    HISTORY,
    REPLAY,
    LATE_REPLAY,
    DUPLICATES,
    CHARGES,
    REUSE,
    BAD_INPUT,
    FOREIGN,
    AUTH,
    COST,
    P99,
}
BILLING = Path("services") / "billing"
LEDGER = BILLING / "ledger.py"
MODELS = BILLING / "models.py"
SCHEMAS = BILLING / "schemas.py"


def solved_with(tree: Path, *edits: tuple[Path, str, str]) -> None:
    """The reference fix with the given (file, old, new) edits, served by a restarted billing."""
    assert drill(tree, "solve", "float-drift").returncode == 0
    for path, old, new in edits:
        rewrite(tree / path, old, new)
    restart_services(tree, "billing")


def grade(tree: Path, *only: str) -> tuple[int, set[str]]:
    """(exit code, failed checks) of `drill verify float-drift`, graded on PostgreSQL: every
    check, or only the named ones (a wrong fix is graded by the checks that must catch it, and
    those it must not trip)."""
    database = lab.read_database(tree)
    if database is None or not database.races_possible:
        # CI always has PostgreSQL (DRILL_TEST_POSTGRES_URL): there, a lab on SQLite is a failure.
        assert not os.environ.get("DRILL_TEST_POSTGRES_URL"), "the lab did not use PostgreSQL"
        pytest.skip("the race checks need PostgreSQL (docs/grading/README.md says how)")
    code, checks = verify_json(tree, "float-drift", checks=only)
    assert set(checks) == (set(only) or ALL)
    return code, failed(checks)


def test_the_graders_copy_of_the_seeded_accounts_matches_the_seed() -> None:
    assert list(float_drift.HEAVY_USERS) == seed.heavy_user_ids()
    assert float_drift.HEAVY_USER_TRANSACTIONS == seed.HEAVY_USER_TRANSACTIONS
    assert seed.longest_history_user_id() == float_drift.LONGEST_HISTORY_USER
    assert float_drift.LONGEST_HISTORY_TRANSACTIONS == seed.LONGEST_HISTORY_TRANSACTIONS


def test_poisoned_code_fails_on_every_planted_fault(shared_lab: Path) -> None:
    code, failures = grade(shared_lab)

    assert code == 1
    # Auth is not a planted fault, and nothing stores fields the contract lacks: the grader must
    # not blame what works.
    assert failures >= ALL - {AUTH, FOREIGN}
    assert AUTH not in failures


def test_reference_fix_passes_every_check(shared_lab: Path) -> None:
    solved_with(shared_lab)

    code, failures = grade(shared_lab)

    assert failures == set()
    assert code == 0


@pytest.mark.soak
def test_reference_fix_passes_ten_verifies_under_the_drills_own_load(shared_lab: Path) -> None:
    """The grader's verdict is its own requests' (class 10): with the drill's Locust load charging
    the same seeded accounts (paused only while the latency checks measure), the reference fix
    passes every time."""
    with running_drill(shared_lab, "float-drift"):
        solved_with(shared_lab)
        outcomes = [grade(shared_lab) for _ in range(10)]

    assert [failures for _, failures in outcomes] == [set()] * 10
    assert [code for code, _ in outcomes] == [0] * 10


def test_rejects_float_kept_display_rounded(shared_lab: Path) -> None:
    """The commonest wrong fix: format the float balance to two places. Small sums now look right,
    but large ones lose cents, and retries still double-bill."""
    rewrite(shared_lab / LEDGER, "str(balance)", 'f"{balance:.2f}"')
    rewrite(shared_lab / LEDGER, "str(total)", 'f"{total:.2f}"')
    restart_services(shared_lab, "billing")

    code, failures = grade(shared_lab, DIMES, AWKWARD, FLOAT, LARGE, REPLAY, DUPLICATES, REUSE)

    assert code == 1
    assert DIMES not in failures and AWKWARD not in failures, "rounding hides drift on small sums"
    assert {FLOAT, LARGE, REPLAY, DUPLICATES, REUSE} <= failures


def test_rejects_decimal_without_a_unique_request_id(shared_lab: Path) -> None:
    """Exact money but no unique request_id: every amount is right, every retry bills again."""
    solved_with(
        shared_lab,
        (MODELS, "mapped_column(String(128), unique=True)", "mapped_column(String(128))"),
    )

    code, failures = grade(
        shared_lab,
        REPLAY,
        LATE_REPLAY,
        DUPLICATES,
        REUSE,
        FLOAT,
        DIMES,
        AWKWARD,
        LARGE,
        HISTORY,
        CHARGES,
        COST,
    )

    assert code == 1
    assert {REPLAY, LATE_REPLAY, DUPLICATES, REUSE} <= failures
    assert not failures & {FLOAT, DIMES, AWKWARD, LARGE, HISTORY, CHARGES, COST}


def test_rejects_idempotency_by_a_read_before_the_write(shared_lab: Path) -> None:
    """Look the request_id up, insert if absent, no constraint: right one request at a time, but
    concurrent retries all read "absent" (class 1: a race, which only PostgreSQL can show)."""
    solved_with(
        shared_lab,
        (MODELS, "mapped_column(String(128), unique=True)", "mapped_column(String(128))"),
        (
            LEDGER,
            "    try:\n        balance = _add_to_balance(",
            "    seen = session.scalars(\n"
            "        select(Transaction).where(Transaction.request_id == body.request_id)\n"
            "    ).first()\n"
            "    if seen is not None:\n"
            "        return _replay(session, body.request_id, fingerprint)\n"
            "    try:\n        balance = _add_to_balance(",
        ),
    )

    code, failures = grade(shared_lab, DUPLICATES, REPLAY, LATE_REPLAY, REUSE, DIMES, AWKWARD)

    assert code == 1
    assert DUPLICATES in failures
    assert not failures & {REPLAY, LATE_REPLAY, REUSE, DIMES, AWKWARD}


READ_MODIFY_WRITE = (
    "    return session.execute(\n"
    "        update(Balance)\n"
    "        .where(Balance.user_id == user_id)\n"
    "        .values(\n"
    "            balance=Balance.balance + amount,\n"
    "            transaction_count=Balance.transaction_count + 1,\n"
    "        )\n"
    "        .returning(Balance.balance)\n"
    "    ).scalar_one()",
    "    row = session.scalars(select(Balance).where(Balance.user_id == user_id)LOCK).one()\n"
    "    new_balance = row.balance + amount\n"
    "    session.execute(\n"
    "        update(Balance)\n"
    "        .where(Balance.user_id == user_id)\n"
    "        .values(balance=new_balance, transaction_count=row.transaction_count + 1)\n"
    "    )\n"
    "    return new_balance",
)


def test_rejects_a_balance_updated_by_read_modify_write(shared_lab: Path) -> None:
    """Read the balance, add in Python, write it back: two charges at once both read the same
    balance and one is lost (class 1)."""
    old, new = READ_MODIFY_WRITE
    solved_with(shared_lab, (LEDGER, old, new.replace("LOCK", "")))

    code, failures = grade(shared_lab, CHARGES, FLOAT, AWKWARD, REPLAY, REUSE, COST)

    assert code == 1
    assert CHARGES in failures
    # Lost updates show wherever charges to one account run at once (large amounts, dimes too).
    assert not failures & {FLOAT, AWKWARD, REPLAY, REUSE, COST}


def test_accepts_read_modify_write_under_a_row_lock(shared_lab: Path) -> None:
    """The same read-modify-write, with SELECT ... FOR UPDATE: concurrent charges queue on the
    account's row, so none is lost. The answer key accepts it."""
    old, new = READ_MODIFY_WRITE
    solved_with(shared_lab, (LEDGER, old, new.replace("LOCK", ".with_for_update()")))

    code, failures = grade(shared_lab)

    assert failures == set()
    assert code == 0


def test_rejects_a_replay_that_answers_the_current_balance(shared_lab: Path) -> None:
    """A retry gets the account's balance now, not the first answer (class 2): right when nothing
    happened in between, wrong once other charges landed."""
    solved_with(
        shared_lab,
        (
            LEDGER,
            "    return _response(first)",
            "    now = get_balance(session, user_id=first.user_id).balance\n"
            "    return _response(first).model_copy(update={'balance': now})",
        ),
    )

    code, failures = grade(shared_lab, LATE_REPLAY, REPLAY, DUPLICATES, REUSE, DIMES)

    assert code == 1
    assert LATE_REPLAY in failures
    assert not failures & {REPLAY, DUPLICATES, REUSE, DIMES}


def test_rejects_a_key_matched_on_the_amount_alone(shared_lab: Path) -> None:
    """The body's fingerprint covers the amount only: another account (or other metadata) reusing
    a request_id gets the first caller's answer back (class 2)."""
    solved_with(
        shared_lab,
        (
            LEDGER,
            '{"user_id": user_id, "action": action, "amount": f"{amount:.2f}", '
            '"metadata": metadata}',
            '{"amount": f"{amount:.2f}"}',
        ),
    )

    code, failures = grade(shared_lab, REUSE, REPLAY, LATE_REPLAY, DUPLICATES, DIMES)

    assert code == 1
    assert REUSE in failures
    assert not failures & {REPLAY, LATE_REPLAY, DUPLICATES, DIMES}


def test_rejects_a_balance_summed_from_the_history(shared_lab: Path) -> None:
    """Exact and idempotent, but the balance is a SUM over the account's entries (indexed): fast
    on the seeded 3,000-entry accounts, slower with every entry (class 3)."""
    solved_with(
        shared_lab,
        (
            LEDGER,
            "    row = session.get(Balance, user_id)\n"
            "    if row is None:\n"
            "        return BalanceOut(user_id=user_id, balance=ZERO, transaction_count=0)\n"
            "    return BalanceOut(user_id=user_id, balance=row.balance, "
            "transaction_count=row.transaction_count)",
            "    amounts = session.scalars(\n"
            "        select(Transaction.amount).where(Transaction.user_id == user_id)\n"
            "    ).all()\n"
            "    total = sum(amounts, ZERO)\n"
            "    return BalanceOut(user_id=user_id, balance=total, transaction_count=len(amounts))",
        ),
    )

    code, failures = grade(shared_lab, COST, FLOAT, DIMES, AWKWARD, REPLAY, DUPLICATES, CHARGES)

    assert code == 1
    assert COST in failures
    assert not failures & {FLOAT, DIMES, AWKWARD, REPLAY, DUPLICATES, CHARGES}


def test_rejects_answering_200_without_writing_when_the_account_is_busy(shared_lab: Path) -> None:
    """To stay fast under contention, a charge that cannot lock its account at once answers 200
    with the balance as it stands and writes nothing (class 4: up, and wrong)."""
    solved_with(
        shared_lab,
        (
            LEDGER,
            "    try:\n        balance = _add_to_balance(",
            "    try:\n"
            "        session.execute(\n"
            "            _insert_ignoring_conflict(session).values(\n"
            "                user_id=user_id, balance=ZERO, transaction_count=0\n"
            "            )\n"
            "        )\n"
            "        session.commit()\n"
            "        session.scalars(\n"
            "            select(Balance).where(Balance.user_id == user_id)"
            ".with_for_update(nowait=True)\n"
            "        ).one()\n"
            "    except OperationalError:\n"
            "        session.rollback()\n"
            "        return TransactionOut(\n"
            "            data_id=str(uuid.uuid4()),\n"
            "            trace_id=trace_id,\n"
            "            timestamp=datetime.now(UTC),\n"
            "            balance=get_balance(session, user_id=user_id).balance,\n"
            "        )\n"
            "    try:\n        balance = _add_to_balance(",
        ),
        (
            LEDGER,
            "from sqlalchemy.exc import IntegrityError",
            "from sqlalchemy.exc import IntegrityError, OperationalError",
        ),
    )

    code, failures = grade(shared_lab, CHARGES, P99, FLOAT, AWKWARD, REUSE)

    assert code == 1
    assert {CHARGES, P99} & failures, "the silent fallback must show in the balances"
    assert not failures & {FLOAT, AWKWARD, REUSE}


def test_rejects_a_history_page_without_its_upper_bound(shared_lab: Path) -> None:
    """The history route lets a client ask for any page size (class 6: a limit the contract
    caps at 100)."""
    solved_with(
        shared_lab,
        (BILLING / "api" / "routes" / "users.py", "Query(ge=1, le=100)", "Query(ge=1)"),
    )

    code, failures = grade(
        shared_lab, HISTORY, FLOAT, DIMES, REPLAY, DUPLICATES, CHARGES, REUSE, COST
    )

    assert code == 1
    assert HISTORY in failures
    assert not failures & {FLOAT, DIMES, REPLAY, DUPLICATES, CHARGES, REUSE, COST}


def test_rejects_a_data_id_taken_from_the_client(shared_lab: Path) -> None:
    """The write model lets extra fields through and uses a client's data_id as the entry's id
    (class 6: a field the contract never gives the client)."""
    solved_with(
        shared_lab,
        (
            SCHEMAS,
            "class TransactionIn(BaseModel):\n",
            "class TransactionIn(BaseModel, extra='allow'):\n",
        ),
        (
            LEDGER,
            "            id=str(uuid.uuid4()),\n            user_id=user_id,",
            "            id=str((body.model_extra or {}).get('data_id') or uuid.uuid4()),\n"
            "            user_id=user_id,",
        ),
    )

    code, failures = grade(shared_lab, FOREIGN, FLOAT, DIMES, REPLAY, DUPLICATES, REUSE, COST)

    assert code == 1
    assert FOREIGN in failures
    assert not failures & {FLOAT, DIMES, REPLAY, DUPLICATES, REUSE, COST}
