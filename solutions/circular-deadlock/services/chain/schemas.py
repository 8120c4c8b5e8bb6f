"""Request and response bodies of the chain. Money is a decimal string on the wire."""

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StrictInt, StringConstraints

from services.chain.pricing import Tier

Money = Annotated[str, StringConstraints(pattern=r"^-?\d{1,12}\.\d{2}$")]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class Item(BaseModel):
    """One line of a checkout."""

    sku: Sku
    # A JSON integer: true, "2" or 2.0 is refused, not read as a quantity.
    qty: StrictInt = Field(ge=1, le=100)


class QuoteIn(BaseModel):
    """A checkout to quote (service-a)."""

    customer_id: UUID
    items: list[Item] = Field(min_length=1, max_length=20)


class QuoteOut(BaseModel):
    """A quote: its id and the total the customer pays."""

    quote_id: str
    total: Money
    trace_id: str | None


class PriceIn(BaseModel):
    """Items to price for a customer (service-b)."""

    customer_id: UUID
    items: list[Item] = Field(min_length=1, max_length=20)
    # Service-a knows the customer's tier and sends it down with the request, so loyalty never
    # has to ask service-a back.
    tier: Tier


class PriceOut(BaseModel):
    """The priced checkout: subtotal, loyalty discount and total."""

    subtotal: Money
    discount: Money
    total: Money


class DiscountIn(BaseModel):
    """A subtotal to discount for a customer (service-c)."""

    customer_id: UUID
    subtotal: Money
    tier: Tier


class DiscountOut(BaseModel):
    """The customer's tier and the discount it earns."""

    tier: Tier
    discount: Money


class TierOut(BaseModel):
    """A customer's loyalty tier (service-a)."""

    customer_id: UUID
    tier: Tier
