"""service-c: the loyalty discount a customer's tier earns on a subtotal."""

from decimal import Decimal

from fastapi import APIRouter, Request

from services.chain.api.deps import DownstreamDep, PoolDep
from services.chain.pricing import cents, discount_for
from services.chain.schemas import DiscountIn, DiscountOut, TierOut

router = APIRouter(prefix="/v1", tags=["discounts"])


@router.post("/discounts", responses={422: {}, 502: {}, 504: {}})
async def discount(
    body: DiscountIn, request: Request, pool: PoolDep, customers: DownstreamDep
) -> DiscountOut:
    """The customer's tier, looked up in service-a, and the discount it earns."""
    async with pool.worker(request):
        tier = TierOut.model_validate(
            await customers.call("GET", f"/v1/customers/{body.customer_id}/tier")
        ).tier
        return DiscountOut(tier=tier, discount=cents(discount_for(Decimal(body.subtotal), tier)))
