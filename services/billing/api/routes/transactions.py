"""POST /v1/transactions: validate, verify, then persist in one database transaction."""

from fastapi import APIRouter, Depends

from services.billing import ledger
from services.billing.api.deps import RawBody
from services.billing.auth import Role, require
from services.billing.schemas import TransactionIn, TransactionOut
from services.kit.db import SessionDep
from services.kit.logging import current_trace_ids

router = APIRouter(prefix="/v1", tags=["transactions"])


@router.post(
    "/transactions",
    dependencies=[Depends(require(Role.WRITE))],
    responses={401: {}, 403: {}, 409: {}, 422: {}, 503: {}},
)
def post_transaction(body: TransactionIn, payload: RawBody, session: SessionDep) -> TransactionOut:
    """Post a charge or a correction to a user's ledger; safe to retry with the same request_id."""
    trace_id, _ = current_trace_ids()
    return ledger.post_transaction(session, body=body, payload=payload, trace_id=trace_id)
