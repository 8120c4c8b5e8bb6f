"""What every load file aims at, read from the files as Locust imports them (in a subprocess:
importing Locust patches the whole process for gevent)."""

import json
import os
import subprocess
import sys

import pytest

from drill.scenarios import n_plus_one_data
from drill.services import SERVICES
from tests.conftest import REPO

# Each load's Locust user class and the service it drives.
TARGETS = {
    "ledger_mismatch.BillingClient": "billing",
    "quote_timeouts.CheckoutFrontend": "service-a",
    "slow_orders.DashboardUser": "orders",
}
OFFSET = "321"
PROBE = """
import importlib, json, sys
found = {}
for target in sys.argv[1:]:
    module, user = target.split(".")
    loaded = importlib.import_module(f"loadgen.{module}")
    found[target] = getattr(loaded, user).host
found["buyers"] = importlib.import_module("loadgen.slow_orders").BUYERS
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def probed() -> dict[str, object]:
    env = {**os.environ, "DRILL_PORT_OFFSET": OFFSET, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *TARGETS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_each_load_drives_its_service_where_the_local_lab_runs_it(
    probed: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRILL_PORT_OFFSET", OFFSET)
    assert {t: probed[t] for t in TARGETS} == {t: SERVICES[s].url for t, s in TARGETS.items()}


def test_the_slow_orders_load_asks_for_the_users_the_grader_leaves_it(
    probed: dict[str, object],
) -> None:
    """The grader keeps the others cold (drill/scenarios/n_plus_one_data.py)."""
    assert tuple(probed["buyers"]) == n_plus_one_data.load_buyers()  # type: ignore[arg-type]
