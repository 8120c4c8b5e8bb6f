"""Load for the slow-orders drill: dashboards asking for many users' recent orders at once
(POST /v1/orders/batch), beside customers paging through their own orders.

    make loadtest SCENARIO=slow-orders USERS=20 DURATION=2m

The load asks only for `load_buyers()`: the other users (one ordinary buyer in five) are kept
for `drill verify`'s own requests.
"""

import random

from locust import HttpUser, between, task

from drill.scenarios.n_plus_one_data import load_buyers
from drill.services import SERVICES

BUYERS = load_buyers()
# Per-request timeout: a stalled service shows as failures rather than as hung simulated users.
TIMEOUT_S = 10.0


class DashboardUser(HttpUser):
    """A back-office dashboard and a customer's order history, against the orders service."""

    host = SERVICES["orders"].url
    wait_time = between(0.5, 1.5)

    @task(2)
    def large_batch(self) -> None:
        """A dashboard page: 100 users' recent orders."""
        self.client.post(
            "/v1/orders/batch",
            json={"user_ids": random.sample(BUYERS, 100)},
            name="/v1/orders/batch [100 users]",
            timeout=TIMEOUT_S,
        )

    @task(3)
    def small_batch(self) -> None:
        """A team view: 10 users' recent orders."""
        self.client.post(
            "/v1/orders/batch",
            json={"user_ids": random.sample(BUYERS, 10)},
            name="/v1/orders/batch [10 users]",
            timeout=TIMEOUT_S,
        )

    @task(5)
    def own_orders(self) -> None:
        """A customer opens their order history."""
        user_id = random.choice(BUYERS)
        self.client.get(
            f"/v1/users/{user_id}/orders",
            params={"limit": 10},
            name="/v1/users/{user_id}/orders",
            timeout=TIMEOUT_S,
        )
