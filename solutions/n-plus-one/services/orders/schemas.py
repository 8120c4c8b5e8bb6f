"""Orders' request and response bodies. Money is a decimal string, never a JSON number."""

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from services.orders.limits import USER_ID_MAX, USER_ID_MIN

# The most users one batch may ask for: the work a request may cause must have a bound.
MAX_BATCH_USERS = 500
# A JSON integer, and nothing pydantic would coerce into one (false, "7", 7.0): a batch is asked for
# by programs, and a body the schema does not describe is a bug to report, not to guess at.
UserId = Annotated[StrictInt, Field(ge=USER_ID_MIN, le=USER_ID_MAX)]


class BatchIn(BaseModel):
    """The users whose recent orders to show."""

    user_ids: list[UserId] = Field(min_length=1, max_length=MAX_BATCH_USERS)


class ItemOut(BaseModel):
    """One order line, priced at the catalog's current unit price."""

    sku: str
    quantity: int
    unit_price: str
    amount: str


class OrderOut(BaseModel):
    """One order with its priced lines."""

    order_id: int
    total: str
    items: list[ItemOut]


class UserOrders(BaseModel):
    """A user's most recent orders, newest first."""

    user_id: int
    orders: list[OrderOut]


class BatchOut(BaseModel):
    """Recent orders of every known user asked for, in the order asked; unknown ids are left out."""

    users: list[UserOrders]


class OrderPage(BaseModel):
    """A page of a user's orders, newest first; pass `next_cursor` back as `cursor`."""

    user_id: int
    orders: list[OrderOut]
    next_cursor: str | None
