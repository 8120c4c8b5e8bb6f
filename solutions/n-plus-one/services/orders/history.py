"""Users' order history, priced: what the batch and the per-user routes show.

Reads run a fixed number of statements whatever the number of users (IN lists, one window
query for "latest N per user"), each bounded by a LIMIT; pricing happens afterwards, once, for
every SKU of the answer (pricing.py).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.orders.limits import RECENT_ORDERS
from services.orders.models import Order, OrderLine, User
from services.orders.money import cents
from services.orders.schemas import ItemOut, OrderOut

# An order never has more lines than this; the bound keeps the lines query's LIMIT honest.
MAX_LINES_PER_ORDER = 100
# Ids are INTEGER columns: no row has an id past this, and the database refuses to compare one.
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class LineRow:
    """One order line, as stored."""

    sku: str
    quantity: int


@dataclass(frozen=True)
class OrderRows:
    """One order and its lines, as stored, before pricing."""

    id: int
    user_id: int
    lines: tuple[LineRow, ...]


def _with_lines(session: Session, orders: Sequence[tuple[int, int]]) -> list[OrderRows]:
    """The (order id, user id) pairs, each with its lines, in one query."""
    order_ids = [order_id for order_id, _ in orders]
    lines: dict[int, list[LineRow]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        query = (
            select(OrderLine.order_id, OrderLine.sku, OrderLine.quantity)
            .where(OrderLine.order_id.in_(order_ids))
            .order_by(OrderLine.order_id, OrderLine.id)
            .limit(len(order_ids) * MAX_LINES_PER_ORDER)
        )
        for order_id, sku, quantity in session.execute(query):
            lines[order_id].append(LineRow(sku, quantity))
    return [OrderRows(o, u, tuple(lines[o])) for o, u in orders]


def recent_orders(
    session: Session, *, user_ids: Sequence[int]
) -> tuple[list[int], list[OrderRows]]:
    """The known users among the ids (in the order given) and their most recent orders."""
    wanted = [u for u in dict.fromkeys(user_ids) if 0 < u <= MAX_ID]
    known = set(session.scalars(select(User.id).where(User.id.in_(wanted)).limit(len(wanted))))
    recency = (
        func.row_number()
        .over(partition_by=Order.user_id, order_by=Order.id.desc())
        .label("recency")
    )
    ranked = select(Order.id, Order.user_id, recency).where(Order.user_id.in_(wanted)).subquery()
    latest = (
        select(ranked.c.id, ranked.c.user_id)
        .where(ranked.c.recency <= RECENT_ORDERS)
        .order_by(ranked.c.user_id, ranked.c.id.desc())
        .limit(len(wanted) * RECENT_ORDERS)
    )
    orders = [(order_id, user_id) for order_id, user_id in session.execute(latest)]
    return [u for u in wanted if u in known], _with_lines(session, orders)


def orders_page(
    session: Session, *, user_id: int, limit: int, cursor: int | None
) -> tuple[list[OrderRows], str | None] | None:
    """A page of the user's orders, newest first, and the next cursor; None for an unknown user."""
    if not 0 < user_id <= MAX_ID or session.get(User, user_id) is None:
        return None
    query = select(Order.id, Order.user_id).where(Order.user_id == user_id)
    # A cursor past every id asks for the orders before it: all of them, as with no cursor.
    if cursor is not None and cursor <= MAX_ID:
        query = query.where(Order.id < cursor)
    rows = [(o, u) for o, u in session.execute(query.order_by(Order.id.desc()).limit(limit + 1))]
    next_cursor = str(rows[limit - 1][0]) if len(rows) > limit else None
    return _with_lines(session, rows[:limit]), next_cursor


def skus_of(orders: Iterable[OrderRows]) -> set[str]:
    """Every SKU the orders mention."""
    return {line.sku for order in orders for line in order.lines}


def priced(order: OrderRows, prices: dict[str, Decimal]) -> OrderOut:
    """The order with each line priced at the given unit prices."""
    items, total = [], Decimal(0)
    for line in order.lines:
        unit_price = prices[line.sku]
        amount = unit_price * line.quantity
        total += amount
        items.append(
            ItemOut(
                sku=line.sku,
                quantity=line.quantity,
                unit_price=cents(unit_price),
                amount=cents(amount),
            )
        )
    return OrderOut(order_id=order.id, total=cents(total), items=items)
