"""The ledger: posts transactions exactly once, reports balances and history, in exact money.

The route layer validates and authorizes; everything here runs inside one database transaction.
Idempotency rests on the database's unique constraint on request_id, never on a read before the
write: two concurrent retries cannot both pass a constraint.
"""

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Insert, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.billing.models import Balance, Transaction
from services.billing.schemas import (
    BalanceOut,
    TransactionIn,
    TransactionItem,
    TransactionOut,
    TransactionPage,
)
from services.billing.seed import SeedRow
from services.kit.errors import Problem

ZERO = Decimal("0.00")


def request_fingerprint(
    *, user_id: str, action: str, amount: Decimal, metadata: dict[str, str]
) -> str:
    """A digest of the normalized body: equal for retries of one request, whatever the key order."""
    canonical = json.dumps(
        {"user_id": user_id, "action": action, "amount": f"{amount:.2f}", "metadata": metadata},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def post_transaction(
    session: Session, *, body: TransactionIn, payload: str, trace_id: str | None
) -> TransactionOut:
    """Record one transaction exactly once per request_id; return the balance right after it."""
    user_id = str(body.user_id)
    fingerprint = request_fingerprint(
        user_id=user_id, action=body.action, amount=body.amount, metadata=body.metadata
    )
    try:
        balance = _add_to_balance(session, user_id, body.amount)
        txn = Transaction(
            id=str(uuid.uuid4()),
            user_id=user_id,
            action=body.action,
            amount=body.amount,
            meta=body.metadata,
            request_id=body.request_id,
            request_hash=fingerprint,
            balance_after=balance,
            payload=payload,
            trace_id=trace_id,
            created_at=datetime.now(UTC).replace(tzinfo=None),
        )
        session.add(txn)
        session.commit()
    except IntegrityError:
        # The request_id is taken: this is a retry (or a reused key). The balance update above is
        # rolled back with the failed insert, so nothing of this attempt is kept.
        session.rollback()
        return _replay(session, body.request_id, fingerprint)
    return _response(txn)


def get_balance(session: Session, *, user_id: str) -> BalanceOut:
    """The user's balance and how many transactions make it."""
    row = session.get(Balance, user_id)
    if row is None:
        return BalanceOut(user_id=user_id, balance=ZERO, transaction_count=0)
    return BalanceOut(user_id=user_id, balance=row.balance, transaction_count=row.transaction_count)


def list_transactions(
    session: Session, *, user_id: str, limit: int, cursor: int | None
) -> TransactionPage:
    """A page of the user's history, oldest first."""
    query = select(Transaction).where(Transaction.user_id == user_id).order_by(Transaction.seq)
    if cursor is not None:
        query = query.where(Transaction.seq > cursor)
    rows = session.scalars(query.limit(limit + 1)).all()
    items = [
        TransactionItem(
            data_id=row.id,
            action=row.action,
            amount=row.amount,
            metadata=row.meta,
            request_id=row.request_id,
            timestamp=row.created_at.replace(tzinfo=UTC),
        )
        for row in rows[:limit]
    ]
    next_cursor = str(rows[limit - 1].seq) if len(rows) > limit else None
    return TransactionPage(items=items, next_cursor=next_cursor)


def load_history(session: Session, rows: Iterable[SeedRow]) -> None:
    """Load historical transactions into an empty ledger, with their running balances (one bulk
    INSERT per table: tens of thousands of rows, so not one ORM object each)."""
    balances: dict[str, Balance] = {}
    entries = []
    for row in rows:
        amount = Decimal(row.amount)
        account = balances.setdefault(
            row.user_id, Balance(user_id=row.user_id, balance=ZERO, transaction_count=0)
        )
        account.balance += amount
        account.transaction_count += 1
        entries.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, row.request_id)),
                "user_id": row.user_id,
                "action": row.action,
                "amount": amount,
                "meta": row.metadata,
                "request_id": row.request_id,
                "request_hash": request_fingerprint(
                    user_id=row.user_id, action=row.action, amount=amount, metadata=row.metadata
                ),
                "balance_after": account.balance,
                "payload": row.payload,
                "trace_id": None,
                "created_at": row.created_at.replace(tzinfo=None),
            }
        )
    session.execute(insert(Transaction), entries)
    session.add_all(balances.values())
    session.commit()


def reported_balances(session: Session) -> dict[str, str]:
    """Every user's balance as `get_balance` reports it."""
    return {
        user_id: f"{balance:.2f}"
        # audit: allow[unbounded-query] the reconciliation job compares every account, by design
        for user_id, balance in session.execute(select(Balance.user_id, Balance.balance))
    }


def audit_trail(session: Session) -> Iterator[tuple[str, str, str]]:
    """(user_id, request_id, payload as received) of every ledger entry, oldest first."""
    query = select(Transaction.user_id, Transaction.request_id, Transaction.payload)
    # audit: allow[unbounded-query] the reconciliation job reads the whole ledger, by design
    yield from session.execute(query.order_by(Transaction.seq)).tuples()


def _add_to_balance(session: Session, user_id: str, amount: Decimal) -> Decimal:
    """Add `amount` to the user's balance row (made on first use) and return the new balance.

    A single UPDATE ... RETURNING: the database adds under its row lock, so concurrent charges to
    one account never lose an update.
    """
    session.execute(
        _insert_ignoring_conflict(session).values(
            user_id=user_id, balance=ZERO, transaction_count=0
        )
    )
    return session.execute(
        update(Balance)
        .where(Balance.user_id == user_id)
        .values(
            balance=Balance.balance + amount,
            transaction_count=Balance.transaction_count + 1,
        )
        .returning(Balance.balance)
    ).scalar_one()


def _insert_ignoring_conflict(session: Session) -> Insert:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(Balance).on_conflict_do_nothing(index_elements=[Balance.user_id])


def _replay(session: Session, request_id: str, fingerprint: str) -> TransactionOut:
    first = session.scalars(select(Transaction).where(Transaction.request_id == request_id)).one()
    if first.request_hash != fingerprint:
        raise Problem(
            409,
            "idempotency_key_reused",
            "request_id already used for a different transaction",
            f"request_id {request_id!r} was first used with another body; use a new request_id.",
        )
    return _response(first)


def _response(txn: Transaction) -> TransactionOut:
    return TransactionOut(
        data_id=txn.id,
        trace_id=txn.trace_id,
        timestamp=txn.created_at.replace(tzinfo=UTC),
        balance=txn.balance_after,
    )
