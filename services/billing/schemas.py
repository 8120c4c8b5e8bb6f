"""Billing's request and response bodies."""

from datetime import datetime
from typing import Literal

from pydantic import UUID4, BaseModel, Field


class TransactionIn(BaseModel):
    """A charge (`create`) or a correction (`update`) to post to a user's ledger."""

    user_id: UUID4
    action: Literal["create", "update"]
    amount: float = Field(description='Amount as a decimal string, e.g. "12.34".')
    metadata: dict[str, str] = Field(default_factory=dict, max_length=20)
    request_id: str = Field(min_length=1, max_length=128)


class TransactionOut(BaseModel):
    """The ledger's answer to a posted transaction."""

    status: int = 200
    data_id: str
    trace_id: str | None
    timestamp: datetime
    balance: str


class BalanceOut(BaseModel):
    """A user's balance."""

    user_id: str
    balance: str
    transaction_count: int


class TransactionItem(BaseModel):
    """One entry of a user's transaction history."""

    data_id: str
    action: str
    amount: str
    metadata: dict[str, str]
    request_id: str
    timestamp: datetime


class TransactionPage(BaseModel):
    """A page of history; pass `next_cursor` back as `cursor` for the next one."""

    items: list[TransactionItem]
    next_cursor: str | None
