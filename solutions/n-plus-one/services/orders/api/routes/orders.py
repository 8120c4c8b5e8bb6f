"""POST /v1/orders/batch: several users' recent orders in one call (the account dashboard)."""

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from services.kit.db import SessionDep
from services.orders import history
from services.orders.api.deps import PricesDep
from services.orders.schemas import BatchIn, BatchOut, UserOrders

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("/batch", response_model=BatchOut, responses={422: {}, 502: {}, 503: {}})
async def batch(body: BatchIn, session: SessionDep, prices: PricesDep) -> Response:
    """Each user's most recent orders, priced through the catalog."""
    # Database reads are blocking calls: they run in the thread pool, not on the event loop.
    known, orders = await run_in_threadpool(
        lambda: history.recent_orders(session, user_ids=body.user_ids)
    )
    unit_prices = await prices.unit_prices(history.skus_of(orders))
    by_user: dict[int, list[history.OrderRows]] = {user_id: [] for user_id in known}
    for order in orders:
        by_user[order.user_id].append(order)
    answer = BatchOut(
        users=[
            UserOrders(user_id=u, orders=[history.priced(o, unit_prices) for o in by_user[u]])
            for u in known
        ]
    )
    # Serialized once, by pydantic-core: for hundreds of lines, FastAPI's response-model round
    # trip (dump, validate again, dump again) costs more CPU than the queries do.
    return Response(answer.model_dump_json(), media_type="application/json")
