"""service-a: quotes a checkout, and tells other services a customer's loyalty tier."""

import uuid

from fastapi import APIRouter, Request

from services.chain.api.deps import DownstreamDep, PoolDep
from services.chain.pricing import tier_of
from services.chain.schemas import PriceOut, QuoteIn, QuoteOut, TierOut
from services.kit.logging import current_trace_ids

router = APIRouter(prefix="/v1", tags=["quotes"])


@router.post("/quote", responses={422: {}, 502: {}, 504: {}})
async def create_quote(
    body: QuoteIn, request: Request, pool: PoolDep, pricing: DownstreamDep
) -> QuoteOut:
    """Quote a checkout: its items priced, the customer's loyalty discount applied."""
    async with pool.worker(request):
        priced = PriceOut.model_validate(
            await pricing.call("POST", "/v1/prices", body.model_dump(mode="json"))
        )
        trace_id, _ = current_trace_ids()
        return QuoteOut(quote_id=str(uuid.uuid4()), total=priced.total, trace_id=trace_id)


@router.get("/customers/{customer_id}/tier", responses={422: {}})
async def get_tier(customer_id: uuid.UUID, request: Request, pool: PoolDep) -> TierOut:
    """The customer's loyalty tier."""
    async with pool.worker(request):
        return TierOut(customer_id=customer_id, tier=tier_of(customer_id))
