"""Where a request is on its way through the chain: the services it has crossed and the time it
has left. Both travel as headers, so every hop enforces them without asking anyone.

- Deadline: the caller's remaining budget in milliseconds. Each hop works within what is left
  (CHAIN_TIMEOUT_S at most) and hands the next one a little less, so the deepest service gives
  up first and every caller hears why, instead of all of them timing out together.
- Loop guard: the services the request has crossed. A request that comes back to a service it
  already crossed (a call cycle) is refused with 508 at once, before it can take a worker.
"""

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.chain.settings import ChainSettings
from services.kit.errors import Problem

DEADLINE_HEADER = "X-Chain-Deadline-Ms"
VISITED_HEADER = "X-Chain-Visited"
# A quote crosses three services; a longer path can only be a loop.
MAX_HOPS = 3
# Left to a caller for the callee's answer to travel back: the callee gives up this much sooner.
HANDOFF_MARGIN_S = 0.1
# Budgets are whole milliseconds; 8 digits is more than a day, far beyond any hop's timeout.
MAX_BUDGET_DIGITS = 8


@dataclass(frozen=True)
class Hop:
    """This service's leg of a request's path."""

    service: str
    visited: tuple[str, ...]
    deadline: float  # time.monotonic() by which the answer must be sent

    def remaining_s(self) -> float:
        """Seconds left before the deadline (negative once it has passed)."""
        return self.deadline - time.monotonic()

    def ensure_time_left(self) -> None:
        """Refuse to start work the caller will no longer wait for."""
        if self.remaining_s() <= HANDOFF_MARGIN_S:
            raise Problem(
                504,
                "deadline_exceeded",
                "Deadline exceeded",
                f"{self.service} had no time left for this request (it waited too long in line "
                "or reached here too late)",
            )

    def outbound_headers(self) -> dict[str, str]:
        """Headers for a call to the next service: the path so far and a shrunken deadline."""
        budget_ms = max(0, int((self.remaining_s() - HANDOFF_MARGIN_S) * 1000))
        return {
            VISITED_HEADER: ",".join((*self.visited, self.service)),
            DEADLINE_HEADER: str(budget_ms),
        }


def arrive(request: Request) -> Hop:
    """Read the path and deadline a request carries; refuse a loop or an expired deadline."""
    settings: ChainSettings = request.app.state.settings
    service = settings.service_name
    raw = request.headers.get(VISITED_HEADER, "")
    visited = tuple(name.strip() for name in raw.split(",") if name.strip())
    if service in visited or len(visited) >= MAX_HOPS:
        raise Problem(
            508,
            "call_loop",
            "Call loop detected",
            f"{service} refuses a request that already crossed {' -> '.join(visited)}: "
            "a call cycle would deadlock the chain's worker pools",
            extra={"visited": list(visited)},
        )
    budget_s = settings.chain_timeout_s
    given = request.headers.get(DEADLINE_HEADER)
    if given is not None:
        # ASCII digits only: str.isdigit() also takes "²", which int() then refuses.
        if not (given.isascii() and given.isdigit()):
            raise Problem(
                400, "bad_deadline", "Bad deadline header", f"{DEADLINE_HEADER}: {given[:40]!r}"
            )
        # A budget longer than a day is no budget at all: no need to read every digit (int()
        # refuses more than 4300), the hop's own timeout is the smaller.
        if len(given) <= MAX_BUDGET_DIGITS:
            budget_s = min(budget_s, int(given) / 1000)
    hop = Hop(service, visited, time.monotonic() + budget_s)
    hop.ensure_time_left()
    return hop


HopDep = Annotated[Hop, Depends(arrive)]
"""The request's hop, checked for loops and deadline before the handler takes a worker."""
