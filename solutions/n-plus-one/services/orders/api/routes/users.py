"""GET /v1/users/{user_id}/orders: one user's orders, a page at a time."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from services.kit.db import SessionDep
from services.kit.errors import Problem
from services.orders import history
from services.orders.api.deps import PricesDep
from services.orders.limits import DEFAULT_PAGE, MAX_PAGE, USER_ID_MAX, USER_ID_MIN
from services.orders.schemas import OrderPage

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.get("/{user_id}/orders", responses={404: {}, 422: {}, 502: {}, 503: {}})
async def list_orders(
    user_id: Annotated[int, Path(ge=USER_ID_MIN, le=USER_ID_MAX)],
    session: SessionDep,
    prices: PricesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> OrderPage:
    """The user's orders, newest first, `limit` at a time, priced through the catalog."""
    found = await run_in_threadpool(
        lambda: history.orders_page(
            session, user_id=user_id, limit=limit, cursor=int(cursor) if cursor else None
        )
    )
    if found is None:
        raise Problem(404, "unknown_user", "No such user", f"no user with id {user_id}")
    orders, next_cursor = found
    unit_prices = await prices.unit_prices(history.skus_of(orders))
    return OrderPage(
        user_id=user_id,
        orders=[history.priced(o, unit_prices) for o in orders],
        next_cursor=next_cursor,
    )
