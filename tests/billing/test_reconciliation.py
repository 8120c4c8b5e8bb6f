"""The reconciliation job makes the planted faults visible as metrics, and stays quiet on an
exact ledger. (These tests use the poisoned ledger on purpose: it is what the alerts watch.)"""

import time
import uuid
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.billing import seed
from services.billing.app import create_app
from services.billing.reconciliation import _submitted_amount, read_position
from tests.billing.conftest import READER, WRITER, settings_for


def post(client: TestClient, user: str, amount: str, request_id: str | None = None) -> None:
    response = client.post(
        "/v1/transactions",
        json={
            "user_id": user,
            "action": "create",
            "amount": amount,
            "request_id": request_id or str(uuid.uuid4()),
        },
        headers=WRITER,
    )
    assert response.status_code == 200


def gauges(client: TestClient) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if sample.name.startswith("billing_")
    }


def test_whole_amounts_on_distinct_request_ids_reconcile_clean(client: TestClient) -> None:
    user = str(uuid.uuid4())
    for amount in ("1.00", "2.00", "3.00"):
        post(client, user, amount)

    findings = client.app.state.reconciler.run_once()  # type: ignore[attr-defined]

    assert (findings.drifted_accounts, findings.duplicate_charges) == (0, 0)
    assert gauges(client)["billing_ledger_drift_accounts"] == 0


def test_float_drift_and_double_charges_show_in_the_metrics(client: TestClient) -> None:
    drifting, retried = str(uuid.uuid4()), str(uuid.uuid4())
    for _ in range(3):
        post(client, drifting, "0.10")
    post(client, retried, "5.00", request_id="retry-me")
    post(client, retried, "5.00", request_id="retry-me")

    findings = client.app.state.reconciler.run_once()  # type: ignore[attr-defined]

    # Both accounts drift: one by float error, the other by the whole double charge.
    assert findings.drifted_accounts == 2
    assert Decimal("5.00") < findings.drift_amount < Decimal("5.000001")
    assert findings.duplicate_charges == 1
    metrics = gauges(client)
    assert metrics["billing_ledger_drift_accounts"] == 2
    assert metrics["billing_duplicate_charges"] == 1
    assert metrics["billing_reconciliation_last_success_timestamp_seconds"] > 0


def test_submitted_amounts_are_read_exactly_and_garbage_is_set_aside() -> None:
    assert _submitted_amount('{"amount": "0.10"}') == Decimal("0.10")
    assert _submitted_amount('{"amount": 0.1}') == Decimal("0.1")
    assert _submitted_amount('{"amount": "NaN"}') is None
    assert _submitted_amount('{"amount": "abc"}') is None
    assert _submitted_amount("not json") is None


def test_the_seeded_history_is_deterministic_and_loaded_on_start(tmp_path: Path) -> None:
    assert list(seed.history()) == list(seed.history())

    with TestClient(create_app(settings_for(tmp_path, seed_history=True))) as client:
        heavy = seed.heavy_user_ids()[0]
        balance = client.get(f"/v1/users/{heavy}/balance", headers=READER).json()

    assert balance["transaction_count"] == seed.HEAVY_USER_TRANSACTIONS


def test_history_from_before_the_start_is_the_opening_position_and_only_change_pages(
    tmp_path: Path,
) -> None:
    """The seeded history drifts on this ledger, but it was there before the service started:
    an idle service reports nothing, and new drift on an old account and a new one is reported."""
    with TestClient(create_app(settings_for(tmp_path, seed_history=True))) as client:
        reconciler = client.app.state.reconciler  # type: ignore[attr-defined]
        assert len(reconciler.opening.drift) > 0  # not vacuous: the history does drift

        idle = reconciler.run_once()
        assert (idle.drifted_accounts, idle.duplicate_charges) == (0, 0)
        assert idle.accounts == reconciler.opening.accounts

        old_account, new_account = seed.heavy_user_ids()[0], str(uuid.uuid4())
        for user in (old_account, new_account):
            for _ in range(3):
                post(client, user, "0.10")
        post(client, old_account, "5.00", request_id="retry-me")
        post(client, old_account, "5.00", request_id="retry-me")
        busy = reconciler.run_once()
        with reconciler.sessions() as session:
            now = read_position(session)

    assert busy.drifted_accounts == 2 and busy.duplicate_charges == 1
    assert now.drift[old_account] != reconciler.opening.drift.get(old_account)


def test_the_next_run_is_published_one_interval_after_the_last(client: TestClient) -> None:
    # The job's first run starts with the app; the fixture's interval is an hour.
    deadline = time.monotonic() + 10
    while not (next_run := gauges(client)["billing_reconciliation_next_run_timestamp_seconds"]):
        assert time.monotonic() < deadline, "the first run never published the next one"
        time.sleep(0.05)

    assert time.time() + 3_500 < next_run <= time.time() + 3_600
