"""Real Locust against a real lab: the load makes the double billing visible in the service's
reconciliation metrics on the poisoned code, and the reference fix absorbs the same retries."""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from drill.services import SERVICES
from tests.conftest import REPO, drill

pytestmark = pytest.mark.slow

# A reconciliation every second, and clients impatient enough that retries happen at once.
# Failed (timed-out) requests are the point here, so they must not fail the run.
LOCUST_OPTIONS = {
    "--users": "20",
    "--spawn-rate": "20",
    "--run-time": "20s",
    "--exit-code-on-error": "0",
}
LOCUST_ARGS = [
    "--headless",
    "--only-summary",
    *(part for item in LOCUST_OPTIONS.items() for part in item),
]
LAB_ENV = {"RECONCILE_INTERVAL_MS": "1000", "BILLING_CLIENT_TIMEOUT_S": "0.15"}


def run_load(tree: Path, reports: Path) -> dict[str, int]:
    """20 Locust users for 20 s, headless; returns the aggregated request and failure counts."""
    started = drill(tree, "up", "--mode", "local", env=LAB_ENV)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        locustfile = str(REPO / "loadgen" / "ledger_mismatch.py")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                locustfile,
                *LOCUST_ARGS,
                "--csv",
                str(reports / "locust"),
            ],
            cwd=REPO,
            env={**os.environ, **LAB_ENV},
            capture_output=True,
            check=True,
            timeout=120,
        )
        time.sleep(2.5)  # at least one reconciliation run after the last request
        metrics = httpx.get(f"{SERVICES['billing'].url}/metrics", timeout=10).text
    finally:
        drill(tree, "down")
    with (reports / "locust_stats.csv").open() as stats:
        total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    duplicates = next(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "billing_duplicate_charges"
    )
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "duplicates": int(duplicates),
    }


def test_retries_under_load_double_bill_the_poisoned_ledger(tree: Path, tmp_path: Path) -> None:
    outcome = run_load(tree, tmp_path)

    assert outcome["requests"] > 100
    assert outcome["failures"] > 0, "timeouts must happen, or nobody retries"
    assert outcome["duplicates"] > 0
    assert (tmp_path / "locust_stats.csv").exists()


def test_the_reference_fix_bills_each_retried_charge_once(tree: Path, tmp_path: Path) -> None:
    assert drill(tree, "solve", "float-drift").returncode == 0

    outcome = run_load(tree, tmp_path)

    assert outcome["requests"] > 100
    assert outcome["duplicates"] == 0
