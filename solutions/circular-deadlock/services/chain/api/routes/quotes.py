"""service-a: quotes a checkout, and tells other services a customer's loyalty tier."""

import uuid

from fastapi import APIRouter, Request

from services.chain.api.deps import DownstreamDep, PoolDep
from services.chain.hops import HopDep
from services.chain.pricing import tier_of
from services.chain.schemas import PriceIn, PriceOut, QuoteIn, QuoteOut, TierOut
from services.kit.logging import current_trace_ids

router = APIRouter(prefix="/v1", tags=["quotes"])


@router.post("/quote", responses={422: {}, 502: {}, 503: {}, 504: {}, 508: {}})
async def create_quote(
    body: QuoteIn, request: Request, hop: HopDep, pool: PoolDep, pricing: DownstreamDep
) -> QuoteOut:
    """Quote a checkout: its items priced, the customer's loyalty discount applied."""
    async with pool.worker(request):
        hop.ensure_time_left()
        asked = PriceIn(
            customer_id=body.customer_id, items=body.items, tier=tier_of(body.customer_id)
        )
        priced = PriceOut.model_validate(
            await pricing.call("POST", "/v1/prices", asked.model_dump(mode="json"), hop=hop)
        )
        trace_id, _ = current_trace_ids()
        return QuoteOut(quote_id=str(uuid.uuid4()), total=priced.total, trace_id=trace_id)


@router.get("/customers/{customer_id}/tier", responses={422: {}, 508: {}})
async def get_tier(customer_id: uuid.UUID, request: Request, hop: HopDep, pool: PoolDep) -> TierOut:
    """The customer's loyalty tier."""
    async with pool.worker(request):
        hop.ensure_time_left()
        return TierOut(customer_id=customer_id, tier=tier_of(customer_id))
