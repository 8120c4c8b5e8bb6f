"""POST /v1/orders/batch: several users' recent orders in one call (the account dashboard)."""

from fastapi import APIRouter

from services.kit.db import SessionDep
from services.orders import history
from services.orders.api.deps import PricesDep
from services.orders.schemas import BatchIn, BatchOut

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("/batch", responses={422: {}, 503: {}})
async def batch(body: BatchIn, session: SessionDep, prices: PricesDep) -> BatchOut:
    """Each user's most recent orders, priced through the catalog."""
    return BatchOut(users=history.recent_orders(session, prices, user_ids=body.user_ids))
