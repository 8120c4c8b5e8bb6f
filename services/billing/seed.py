"""The ledger's history, loaded into an empty database so the lab starts with a real-sized table.

Deterministic: the same rows on every start, so drills and graders see the same ledger. Amounts
are decimal strings made from whole cents, as a client would send them.
"""

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SEED = 6_1  # the seed's scenario number, 6.1
ORDINARY_USERS = 400
HEAVY_USERS = 3
# Long-standing accounts (a reseller, a marketplace) with a long history each.
HEAVY_USER_TRANSACTIONS = 3_000
# The oldest customer of all: a platform account that has been charged since the ledger began.
LONGEST_HISTORY_TRANSACTIONS = 30_000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
AWKWARD_CENTS = (1, 7, 10, 29, 33, 1_999, 3_333, 9_999)


@dataclass(frozen=True)
class SeedRow:
    """One historical transaction, as its client submitted it."""

    user_id: str
    action: str
    amount: str
    metadata: dict[str, str]
    request_id: str
    created_at: datetime

    @property
    def payload(self) -> str:
        """The request body as received, kept for audit and reconciliation."""
        body = {
            "user_id": self.user_id,
            "action": self.action,
            "amount": self.amount,
            "metadata": self.metadata,
            "request_id": self.request_id,
        }
        return json.dumps(body)


def _uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _cents_to_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def heavy_user_ids() -> list[str]:
    """The accounts with long histories."""
    rng = random.Random(SEED)
    return [_uuid4(rng) for _ in range(HEAVY_USERS)]


def longest_history_user_id() -> str:
    """The account with the longest history of all."""
    return str(uuid.UUID(int=random.Random(SEED + 1).getrandbits(128), version=4))


def history() -> Iterator[SeedRow]:
    """Every seeded transaction, oldest first."""
    rng = random.Random(SEED)
    heavy = [_uuid4(rng) for _ in range(HEAVY_USERS)]
    ordinary = [_uuid4(rng) for _ in range(ORDINARY_USERS)]
    accounts = [(longest_history_user_id(), LONGEST_HISTORY_TRANSACTIONS)]
    accounts += [(user, HEAVY_USER_TRANSACTIONS) for user in heavy]
    accounts += [(user, rng.randint(1, 40)) for user in ordinary]
    plan = [user for user, count in accounts for _ in range(count)]
    rng.shuffle(plan)
    for n, user in enumerate(plan):
        awkward = rng.randrange(2) == 0
        cents = rng.choice(AWKWARD_CENTS) if awkward else rng.randint(1, 250_00)
        yield SeedRow(
            user_id=user,
            action="create",
            amount=_cents_to_text(cents),
            metadata={"source": "seed", "invoice": f"INV-{n:06d}"},
            request_id=f"seed-{n:06d}",
            created_at=EPOCH + timedelta(minutes=n),
        )
