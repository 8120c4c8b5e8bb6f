"""service-c: the loyalty discount a customer's tier earns on a subtotal."""

from decimal import Decimal

from fastapi import APIRouter, Request

from services.chain.api.deps import PoolDep
from services.chain.hops import HopDep
from services.chain.pricing import cents, discount_for
from services.chain.schemas import DiscountIn, DiscountOut

router = APIRouter(prefix="/v1", tags=["discounts"])


@router.post("/discounts", responses={422: {}, 504: {}, 508: {}})
async def discount(body: DiscountIn, request: Request, hop: HopDep, pool: PoolDep) -> DiscountOut:
    """The discount the customer's tier (sent by the caller) earns on the subtotal."""
    async with pool.worker(request):
        hop.ensure_time_left()
        return DiscountOut(
            tier=body.tier, discount=cents(discount_for(Decimal(body.subtotal), body.tier))
        )
