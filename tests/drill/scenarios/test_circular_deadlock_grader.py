"""The circular-deadlock grader fails the poisoned chain, passes the reference fix, and fails
plausible wrong fixes, each for the right reasons. Every case runs a real lab from a tree copy."""

import uuid
from pathlib import Path

import httpx
import pytest

from drill.services import SERVICES
from tests.conftest import REPO, drill, failed, restart_lab, rewrite, verify_json

pytestmark = pytest.mark.slow

EXACT = "quotes are exact at low load"
NO_ERRORS = "no timeouts and no 5xx at 4x the pool, sustained"
THROUGHPUT = "throughput at 4x the pool holds"
P99 = "P99 at 4x the pool < 2 s"
RECOVERS = "the chain recovers by itself once load stops"
FAILS_FAST = "service-c stopped: callers fail fast with problem+json"
ALL = {EXACT, NO_ERRORS, THROUGHPUT, P99, RECOVERS, FAILS_FAST}
CHAIN = Path("services") / "chain"
SETTINGS = CHAIN / "settings.py"


def test_poisoned_chain_deadlocks_under_load_and_hangs_on_a_dead_callee(lab: Path) -> None:
    code, checks = verify_json(lab, "circular-deadlock")

    assert code == 1
    assert set(checks) == ALL
    # At low load the cycle works: the grader must not blame what works.
    assert checks[EXACT]
    assert {NO_ERRORS, THROUGHPUT, P99, FAILS_FAST} <= failed(checks)


def test_reference_fix_passes_every_check_and_guards_against_loops(lab: Path) -> None:
    assert drill(lab, "solve", "circular-deadlock").returncode == 0

    code, checks = verify_json(lab, "circular-deadlock")

    assert failed(checks) == set()
    assert code == 0
    body = {"customer_id": str(uuid.uuid4()), "items": [{"sku": "SKU-MUG", "qty": 1}]}
    came_back = httpx.post(
        f"{SERVICES['service-a'].url}/v1/quote",
        json=body,
        headers={"X-Chain-Visited": "service-a,service-b,service-c"},
        timeout=10,
    )
    assert came_back.status_code == 508
    assert came_back.headers["content-type"].startswith("application/problem+json")
    assert came_back.json()["error_code"] == "call_loop"
    expired = httpx.post(
        f"{SERVICES['service-a'].url}/v1/quote",
        json=body,
        headers={"X-Chain-Deadline-Ms": "0"},
        timeout=10,
    )
    assert expired.status_code == 504
    assert expired.json()["error_code"] == "deadline_exceeded"


def test_a_bigger_pool_alone_still_deadlocks_at_four_times_its_size(lab: Path) -> None:
    """The commonest wrong fix: more workers. The cycle still fills every pool at 4x its size."""
    rewrite(
        lab / SETTINGS,
        "chain_max_concurrency: int = Field(default=8,",
        "chain_max_concurrency: int = Field(default=32,",
    )
    restart_lab(lab)

    code, checks = verify_json(lab, "circular-deadlock")

    assert code == 1
    assert checks[EXACT]
    assert {NO_ERRORS, THROUGHPUT, P99, FAILS_FAST} <= failed(checks)


def test_shorter_timeouts_alone_turn_the_deadlock_into_errors(lab: Path) -> None:
    """Failing sooner is not serving: the cycle still deadlocks, now ending in 504s each second."""
    rewrite(
        lab / SETTINGS,
        "chain_timeout_s: float = Field(default=5.0,",
        "chain_timeout_s: float = Field(default=1.0,",
    )
    restart_lab(lab)

    code, checks = verify_json(lab, "circular-deadlock")

    assert code == 1
    assert checks[EXACT]
    # Queued behind 1 s timeouts, quotes still wait for seconds (measured: P99 about 4 s).
    assert {NO_ERRORS, THROUGHPUT, P99} <= failed(checks)


def test_a_broken_cycle_with_the_old_client_still_hangs_on_a_dead_callee(lab: Path) -> None:
    """Half the fix: the tier travels downstream (no cycle, no deadlock), but the client still
    retries refused connections with backoff and has no breaker. Load is fine; an outage is not."""
    assert drill(lab, "solve", "circular-deadlock").returncode == 0
    (lab / CHAIN / "downstream.py").write_text((REPO / CHAIN / "downstream.py").read_text())
    for route in ("quotes.py", "prices.py"):
        rewrite(lab / CHAIN / "api" / "routes" / route, '(mode="json"), hop=hop)', '(mode="json"))')
    restart_lab(lab)

    code, checks = verify_json(lab, "circular-deadlock")

    assert code == 1
    assert failed(checks) == {FAILS_FAST}
