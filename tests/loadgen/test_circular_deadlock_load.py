"""Real Locust against a real lab: the chain's load tips the poisoned chain into its deadlock,
visible in Locust's failures and in the chain's own timeout and saturation metrics."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from drill.services import SERVICES
from tests.conftest import REPO

pytestmark = pytest.mark.slow

LOCUST_ARGS = ["--headless", "--only-summary", "--users", "32", "--spawn-rate", "32"]
LOCUST_ARGS += ["--run-time", "12s", "--exit-code-on-error", "0"]


def upstream_timeouts() -> float:
    """chain_upstream_timeouts_total over the three services."""
    total = 0.0
    for name in ("service-a", "service-b", "service-c"):
        text = httpx.get(f"{SERVICES[name].url}/metrics", timeout=10).text
        total += sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "chain_upstream_timeouts_total"
        )
    return total


def test_quote_load_deadlocks_the_poisoned_chain(lab: Path, tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(REPO / "loadgen" / "quote_timeouts.py"),
            *LOCUST_ARGS,
            "--csv",
            str(tmp_path / "locust"),
        ],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        check=True,
        timeout=120,
    )

    with (tmp_path / "locust_stats.csv").open() as stats:
        total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    assert int(total["Failure Count"]) > 0
    assert upstream_timeouts() > 0
