"""The ledger: posts transactions, reports balances and history.

The route layer validates and authorizes; everything here runs inside one database transaction.
"""

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from services.billing.models import Transaction
from services.billing.schemas import (
    BalanceOut,
    TransactionIn,
    TransactionItem,
    TransactionOut,
    TransactionPage,
)
from services.billing.seed import SeedRow


def post_transaction(
    session: Session, *, body: TransactionIn, payload: str, trace_id: str | None
) -> TransactionOut:
    """Record one transaction and return the user's new balance."""
    txn = Transaction(
        id=str(uuid.uuid4()),
        user_id=str(body.user_id),
        action=body.action,
        amount=body.amount,
        meta=body.metadata,
        request_id=body.request_id,
        payload=payload,
        trace_id=trace_id,
        created_at=datetime.now(UTC).replace(tzinfo=None),
    )
    session.add(txn)
    session.flush()
    balance, _ = _running_total(session, txn.user_id)
    session.commit()
    return TransactionOut(
        data_id=txn.id,
        trace_id=trace_id,
        timestamp=txn.created_at.replace(tzinfo=UTC),
        balance=str(balance),
    )


def get_balance(session: Session, *, user_id: str) -> BalanceOut:
    """The user's balance and how many transactions make it."""
    balance, count = _running_total(session, user_id)
    return BalanceOut(user_id=user_id, balance=str(balance), transaction_count=count)


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
            amount=str(row.amount),
            metadata=row.meta,
            request_id=row.request_id,
            timestamp=row.created_at.replace(tzinfo=UTC),
        )
        for row in rows[:limit]
    ]
    next_cursor = str(rows[limit - 1].seq) if len(rows) > limit else None
    return TransactionPage(items=items, next_cursor=next_cursor)


def load_history(session: Session, rows: Iterable[SeedRow]) -> None:
    """Load historical transactions into an empty ledger (one bulk INSERT: tens of thousands of
    rows, so not one ORM object each)."""
    session.execute(
        insert(Transaction),
        [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, row.request_id)),
                "user_id": row.user_id,
                "action": row.action,
                "amount": float(row.amount),
                "meta": row.metadata,
                "request_id": row.request_id,
                "payload": row.payload,
                "trace_id": None,
                "created_at": row.created_at.replace(tzinfo=None),
            }
            for row in rows
        ],
    )
    session.commit()


def reported_balances(session: Session) -> dict[str, str]:
    """Every user's balance as `get_balance` reports it."""
    totals: dict[str, float] = {}
    # audit: allow[unbounded-query] the reconciliation job compares every account, by design
    for user_id, amount in session.execute(
        select(Transaction.user_id, Transaction.amount).order_by(Transaction.seq)
    ):
        totals[user_id] = totals.get(user_id, 0) + amount
    return {user_id: str(total) for user_id, total in totals.items()}


def audit_trail(session: Session) -> Iterator[tuple[str, str, str]]:
    """(user_id, request_id, payload as received) of every ledger entry, oldest first."""
    query = select(Transaction.user_id, Transaction.request_id, Transaction.payload)
    # audit: allow[unbounded-query] the reconciliation job reads the whole ledger, by design
    yield from session.execute(query.order_by(Transaction.seq)).tuples()


def _running_total(session: Session, user_id: str) -> tuple[float, int]:
    rows = session.scalars(
        select(Transaction).where(Transaction.user_id == user_id).order_by(Transaction.seq)
    ).all()
    return sum(row.amount for row in rows), len(rows)
