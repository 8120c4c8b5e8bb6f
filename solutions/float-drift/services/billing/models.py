"""Billing's tables, with money in exact decimal columns."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from services.kit.db import Base

CENT = Decimal("0.01")


class Money(TypeDecorator[Decimal]):
    """An exact amount of money: NUMERIC on PostgreSQL, whole cents in an integer on SQLite.

    SQLite has no exact decimal type (NUMERIC columns there hold binary floats), so cents in an
    INTEGER is the only exact representation it offers. Python always sees a Decimal in cents.
    """

    impl = Numeric(20, 2, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value != value.quantize(CENT):
            raise ValueError(f"{value} is not a whole number of cents")
        return int(value * 100) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-2)
        return Decimal(value).quantize(CENT)


class Transaction(Base):
    """One ledger entry; request_id is unique, so the database itself refuses a double charge."""

    __tablename__ = "transactions"
    __table_args__ = (Index("ix_transactions_user_seq", "user_id", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[str] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money)
    meta: Mapped[dict[str, str]] = mapped_column("metadata", JSON)
    request_id: Mapped[str] = mapped_column(String(128), unique=True)
    # Fingerprint of the normalized body: a retry must match it to get the first answer back.
    request_hash: Mapped[str] = mapped_column(String(64))
    # The user's balance right after this entry: the first response, replayed on retries.
    balance_after: Mapped[Decimal] = mapped_column(Money)
    # The request body as received, for audit and the reconciliation job.
    payload: Mapped[str] = mapped_column(Text)
    trace_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Balance(Base):
    """A user's running balance, updated in the same transaction as each entry: O(1) to read."""

    __tablename__ = "balances"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    balance: Mapped[Decimal] = mapped_column(Money)
    transaction_count: Mapped[int] = mapped_column(Integer)
