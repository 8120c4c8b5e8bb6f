"""service-b: prices the items of a checkout, then asks loyalty for the customer's discount."""

from decimal import Decimal

from fastapi import APIRouter, Request

from services.chain.api.deps import DownstreamDep, PoolDep
from services.chain.pricing import PRICE_LIST, cents, line_total
from services.chain.schemas import DiscountIn, DiscountOut, PriceIn, PriceOut
from services.kit.errors import Problem

router = APIRouter(prefix="/v1", tags=["prices"])


def subtotal_of(body: PriceIn) -> Decimal:
    """The sum of the order lines; 422 for a sku the price list does not hold."""
    unknown = sorted({item.sku for item in body.items} - PRICE_LIST.keys())
    if unknown:
        raise Problem(422, "unknown_sku", "Unknown sku", f"not in the price list: {unknown}")
    return sum((line_total(item.sku, item.qty) for item in body.items), Decimal(0))


@router.post("/prices", responses={422: {}, 502: {}, 504: {}})
async def price_items(
    body: PriceIn, request: Request, pool: PoolDep, loyalty: DownstreamDep
) -> PriceOut:
    """Price the items and apply the customer's loyalty discount."""
    async with pool.worker(request):
        subtotal = subtotal_of(body)
        asked = DiscountIn(customer_id=body.customer_id, subtotal=cents(subtotal))
        discount = DiscountOut.model_validate(
            await loyalty.call("POST", "/v1/discounts", asked.model_dump(mode="json"))
        )
        return PriceOut(
            subtotal=cents(subtotal),
            discount=discount.discount,
            total=cents(subtotal - Decimal(discount.discount)),
        )
