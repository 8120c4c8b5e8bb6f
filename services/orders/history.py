"""Users' order history, priced: what the batch and the per-user routes show."""

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from services.orders.limits import RECENT_ORDERS
from services.orders.models import Order, User
from services.orders.money import cents
from services.orders.pricing import CatalogPrices
from services.orders.schemas import ItemOut, OrderOut, OrderPage, UserOrders


def priced_order(order: Order, prices: CatalogPrices) -> OrderOut:
    """The order with each line priced at the catalog's unit price."""
    items, total = [], Decimal(0)
    for line in order.lines:
        unit_price = prices.unit_price(line.sku)
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


def recent_orders(
    session: Session, prices: CatalogPrices, *, user_ids: Sequence[int]
) -> list[UserOrders]:
    """Each known user's most recent orders, priced, in the order the ids were given."""
    result = []
    for user_id in dict.fromkeys(user_ids):
        user = session.get(User, user_id)
        if user is None:
            continue
        newest = sorted(user.orders, key=lambda o: o.id, reverse=True)[:RECENT_ORDERS]
        result.append(UserOrders(user_id=user.id, orders=[priced_order(o, prices) for o in newest]))
    return result


def orders_page(
    session: Session, prices: CatalogPrices, *, user_id: int, limit: int, cursor: int | None
) -> OrderPage | None:
    """A page of the user's orders, newest first, or None for an unknown user."""
    user = session.get(User, user_id)
    if user is None:
        return None
    newest = sorted(user.orders, key=lambda o: o.id, reverse=True)
    if cursor is not None:
        newest = [o for o in newest if o.id < cursor]
    page = newest[:limit]
    next_cursor = str(page[-1].id) if len(newest) > limit else None
    return OrderPage(
        user_id=user_id, orders=[priced_order(o, prices) for o in page], next_cursor=next_cursor
    )
