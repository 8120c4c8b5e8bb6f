"""Billing's tables."""

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import Base


class Transaction(Base):
    """One ledger entry."""

    __tablename__ = "transactions"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[str] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(16))
    amount: Mapped[float] = mapped_column(Float)
    meta: Mapped[dict[str, str]] = mapped_column("metadata", JSON)
    request_id: Mapped[str] = mapped_column(String(128))
    # The request body as received, for audit and the reconciliation job.
    payload: Mapped[str] = mapped_column(Text)
    trace_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)
