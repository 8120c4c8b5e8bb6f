"""The float-drift grader fails the poisoned billing service, passes the reference fix, and fails
plausible wrong fixes, each for the right reasons. Every case runs a real lab from a tree copy."""

from pathlib import Path

import pytest

from tests.conftest import drill, failed, restart_lab, rewrite, verify_json

pytestmark = pytest.mark.slow

FLOAT = "money never passes through float"
DIMES = "0.10 charged 1000 times is exactly 100.00"
AWKWARD = "awkward amounts sum exactly, each step"
LARGE = "large amounts keep every cent"
REPLAY = "a replayed request_id bills once"
CONCURRENT = "concurrent duplicates bill once"
REUSE = "request_id reused with another body is 409"
BAD_INPUT = "bad input is 422 and stores nothing"
AUTH = "tokens and roles are enforced"
P99 = "P99 < 200 ms under load on long histories"
ALL = {FLOAT, DIMES, AWKWARD, LARGE, REPLAY, CONCURRENT, REUSE, BAD_INPUT, AUTH, P99}


def test_poisoned_code_fails_on_every_planted_fault(lab: Path) -> None:
    code, checks = verify_json(lab, "float-drift")

    assert code == 1
    assert set(checks) == ALL
    # Auth is not a planted fault: the grader must not blame what works.
    assert failed(checks) == ALL - {AUTH}


def test_reference_fix_passes_every_check(lab: Path) -> None:
    assert drill(lab, "solve", "float-drift").returncode == 0

    code, checks = verify_json(lab, "float-drift")

    assert failed(checks) == set()
    assert code == 0


def test_float_kept_and_only_the_display_rounded_still_fails(lab: Path) -> None:
    """The commonest wrong fix: format the float balance to two places. Small sums now look right,
    but large ones lose cents, and retries still double-bill."""
    ledger = lab / "services" / "billing" / "ledger.py"
    rewrite(ledger, "str(balance)", 'f"{balance:.2f}"')
    rewrite(ledger, "str(total)", 'f"{total:.2f}"')
    restart_lab(lab)

    code, checks = verify_json(lab, "float-drift")

    assert code == 1
    assert checks[DIMES] and checks[AWKWARD], "rounding hides drift on small sums"
    assert {FLOAT, LARGE, REPLAY, CONCURRENT, REUSE} <= failed(checks)


def test_decimal_without_idempotency_fails_only_the_retry_checks(lab: Path) -> None:
    """Exact money but no unique request_id: every amount is right, every retry bills again."""
    assert drill(lab, "solve", "float-drift").returncode == 0
    rewrite(
        lab / "services" / "billing" / "models.py",
        "mapped_column(String(128), unique=True)",
        "mapped_column(String(128))",
    )
    restart_lab(lab)

    code, checks = verify_json(lab, "float-drift")

    assert code == 1
    assert failed(checks) == {REPLAY, CONCURRENT, REUSE}
