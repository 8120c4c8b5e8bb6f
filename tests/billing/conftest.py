"""An in-process billing app on a temporary SQLite database, for fast unit tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.billing.app import create_app
from services.billing.settings import BillingSettings

WRITER = {"Authorization": "Bearer drill-lab-writer"}
READER = {"Authorization": "Bearer drill-lab-reader"}


def settings_for(tmp_path: Path, **overrides: object) -> BillingSettings:
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'billing.db'}",
        "seed_history": False,
        # The tests run reconciliation themselves, when they want it.
        "reconcile_interval_ms": 3_600_000,
        **overrides,
    }
    return BillingSettings.model_validate(values)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path))) as test_client:
        yield test_client
