"""Load for the quote-timeouts drill: checkout front-ends asking service-a for quotes.

Each simulated front-end quotes a basket for one of its customers (every loyalty tier), as a
shop does on every cart change. Twenty users or more keep more quotes in flight than the chain's
pools hold (CHAIN_MAX_CONCURRENCY, 8 by default), as at the evening peak.

    make loadtest SCENARIO=quote-timeouts USERS=32 DURATION=2m
"""

import os
import random
import uuid

from locust import HttpUser, between, task

from loadgen.hosts import lab_url

BASKETS = [
    [{"sku": "SKU-COFFEE", "qty": 2}, {"sku": "SKU-BAGEL", "qty": 1}],
    [{"sku": "SKU-BEANS", "qty": 1}, {"sku": "SKU-FILTER", "qty": 40}],
    [{"sku": "SKU-GRINDER", "qty": 1}],
    [{"sku": "SKU-MUG", "qty": 4}, {"sku": "SKU-COFFEE", "qty": 1}],
]
# How long a shop waits for a quote before showing "try again" (seconds); longer than the chain's
# own CHAIN_TIMEOUT_S, so what the chain answers (even a 504) is what Locust reports.
CLIENT_TIMEOUT_S = float(os.environ.get("CHAIN_CLIENT_TIMEOUT_S", "10"))


class CheckoutFrontend(HttpUser):
    """A shop's checkout page asking for a quote whenever a cart changes."""

    host = lab_url(5001)
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        self.customers = [str(uuid.uuid4()) for _ in range(6)]

    @task
    def quote(self) -> None:
        body = {"customer_id": random.choice(self.customers), "items": random.choice(BASKETS)}
        with self.client.post(
            "/v1/quote", json=body, timeout=CLIENT_TIMEOUT_S, catch_response=True
        ) as response:
            if response.status_code == 200:
                response.success()
                return
            # Name the failure by its problem+json error_code, so Locust's table groups them.
            try:
                code = response.json().get("error_code", "no error_code")
            except ValueError:
                code = "no problem+json body"
            response.failure(f"HTTP {response.status_code} {code}")
