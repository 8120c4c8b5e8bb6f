"""Read a user's balance and paginated history."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.billing import ledger
from services.billing.auth import Role, require
from services.billing.schemas import BalanceOut, TransactionPage, UserId
from services.kit.db import INTEGER_MAX, SessionDep

router = APIRouter(prefix="/v1/users", tags=["users"], dependencies=[Depends(require(Role.READ))])


@router.get("/{user_id}/balance", responses={401: {}, 403: {}, 422: {}})
def get_balance(user_id: UserId, session: SessionDep) -> BalanceOut:
    """The user's balance and transaction count."""
    return ledger.get_balance(session, user_id=str(user_id))


@router.get("/{user_id}/transactions", responses={401: {}, 403: {}, 422: {}})
def list_transactions(
    user_id: UserId,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> TransactionPage:
    """The user's history, oldest first, `limit` at a time."""
    # A cursor past the widest seq the column holds pages past every row, as the widest does;
    # clamped, it is never handed to a driver that cannot bind it.
    after = min(int(cursor), INTEGER_MAX) if cursor else None
    return ledger.list_transactions(session, user_id=str(user_id), limit=limit, cursor=after)
