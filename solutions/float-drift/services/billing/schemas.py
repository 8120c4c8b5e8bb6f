"""Billing's request and response bodies. Money is a decimal string on the wire, both ways."""

import re
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal, Self

from pydantic import (
    UUID4,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

CENT = Decimal("0.01")
# Up to 13 digits before the point and 2 after: the largest NUMERIC(20, 2) balance stays exact.
MONEY_PATTERN = r"^-?\d{1,13}(\.\d{1,2})?$"


def _parse_money(value: object) -> Decimal:
    """A JSON string of at most two decimals, as an exact Decimal in cents; nothing else."""
    if not isinstance(value, str) or not re.fullmatch(MONEY_PATTERN, value):
        raise ValueError('amount must be a decimal string with at most 2 decimals, e.g. "12.34"')
    # Quantizing makes "12.3" the Decimal 12.30, with the rounding mode stated rather than left to
    # the context's default (the pattern already rules out anything finer than a cent).
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


MoneyIn = Annotated[
    Decimal,
    PlainValidator(_parse_money),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["12.34"]}),
]
Money = Annotated[Decimal, PlainSerializer(lambda amount: f"{amount:.2f}", return_type=str)]


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
    """A charge (`create`, positive) or a correction (`update`, any sign) to a user's ledger."""

    user_id: UserId
    action: Literal["create", "update"]
    amount: MoneyIn
    metadata: dict[str, Annotated[str, Field(max_length=256)]] = Field(
        default_factory=dict, max_length=20
    )
    request_id: str = Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")

    @model_validator(mode="after")
    def _amount_fits_action(self) -> Self:
        if self.amount == 0:
            raise ValueError("amount must not be zero")
        if self.action == "create" and self.amount < 0:
            raise ValueError("a create (charge) must have a positive amount")
        return self


class TransactionOut(BaseModel):
    """The ledger's answer to a posted transaction (replayed as is for a retried request_id)."""

    status: int = 200
    data_id: str
    trace_id: str | None
    timestamp: datetime
    balance: Money


class BalanceOut(BaseModel):
    """A user's balance."""

    user_id: str
    balance: Money
    transaction_count: int


class TransactionItem(BaseModel):
    """One entry of a user's transaction history."""

    data_id: str
    action: str
    amount: Money
    metadata: dict[str, str]
    request_id: str
    timestamp: datetime


class TransactionPage(BaseModel):
    """A page of history; pass `next_cursor` back as `cursor` for the next one."""

    items: list[TransactionItem]
    next_cursor: str | None
