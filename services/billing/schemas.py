"""Billing's request and response bodies."""

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import UUID4, BaseModel, BeforeValidator, Field, WithJsonSchema

# A UUID version 4 in the 8-4-4-4-12 form the spec writes, documented with the standard "uuid"
# format and a pattern (pydantic's UUID4 alone documents a "uuid4" format no client or tester
# knows), and validated as documented: braces, URNs and bare hex are refused too.
UUID4_PATTERN = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)


def _uuid4_as_documented(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(UUID4_PATTERN, value):
        raise ValueError("must be a UUID version 4 written as 8-4-4-4-12 hex digits")
    return value


UserId = Annotated[
    UUID4,
    BeforeValidator(_uuid4_as_documented),
    WithJsonSchema({"type": "string", "format": "uuid", "pattern": UUID4_PATTERN}),
]


class TransactionIn(BaseModel):
    """A charge (`create`) or a correction (`update`) to post to a user's ledger."""

    user_id: UserId
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
