"""Load for the ledger-mismatch drill: billing clients that behave like real ones.

Each simulated client posts charges with awkward amounts, reads balances and history, and, like
every payment client worth its salt, retries a charge that timed out or failed with the SAME
request_id. Long-standing accounts from the seed get a share of the traffic.

    make loadtest SCENARIO=ledger-mismatch USERS=20 DURATION=1m
"""

import os
import random
import uuid

from locust import HttpUser, between, task
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

from loadgen.hosts import lab_url
from services.billing import seed

AMOUNTS = ["0.10", "0.01", "19.99", "0.07", "0.29", "33.33", "4.99", "120.00", "0.99"]
# How long a client waits for the ledger before giving up and retrying (seconds).
CLIENT_TIMEOUT_S = float(os.environ.get("BILLING_CLIENT_TIMEOUT_S", "0.5"))
ATTEMPTS = 3


class BillingClient(HttpUser):
    """A checkout backend charging its customers through the billing API."""

    host = lab_url(8001)
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        writer = os.environ.get("BILLING_WRITER_TOKEN", "drill-lab-writer")
        reader = os.environ.get("BILLING_READER_TOKEN", "drill-lab-reader")
        self.writer = {"Authorization": f"Bearer {writer}"}
        self.reader = {"Authorization": f"Bearer {reader}"}
        # A few customers of its own, and the big accounts everyone shares.
        self.customers = [str(uuid.uuid4()) for _ in range(3)] + seed.heavy_user_ids()

    @task(6)
    def charge(self) -> None:
        body = {
            "user_id": random.choice(self.customers),
            "action": "create",
            "amount": random.choice(AMOUNTS),
            "metadata": {"source": "locust"},
            "request_id": str(uuid.uuid4()),
        }
        retrying = Retrying(
            stop=stop_after_attempt(ATTEMPTS),
            wait=wait_exponential(multiplier=0.05, max=0.5),
            retry=retry_if_result(lambda delivered: not delivered),
            retry_error_callback=lambda _state: False,
        )
        retrying(self._post_charge, body)

    def _post_charge(self, body: dict[str, object]) -> bool:
        """One attempt; True once the ledger has answered for good (2xx or a 4xx verdict)."""
        with self.client.post(
            "/v1/transactions",
            json=body,
            headers=self.writer,
            timeout=CLIENT_TIMEOUT_S,
            catch_response=True,
        ) as response:
            if response.status_code == 0 or response.status_code >= 500:
                response.failure(f"attempt failed ({response.status_code or 'timeout'}); retrying")
                return False
            if response.status_code >= 400:
                response.failure(f"rejected: {response.status_code}")
            return True

    @task(3)
    def balance(self) -> None:
        user = random.choice(self.customers)
        self.client.get(
            f"/v1/users/{user}/balance", headers=self.reader, name="/v1/users/{id}/balance"
        )

    @task(1)
    def history(self) -> None:
        user = random.choice(self.customers)
        self.client.get(
            f"/v1/users/{user}/transactions?limit=20",
            headers=self.reader,
            name="/v1/users/{id}/transactions",
        )
