"""Load for the slow-orders drill: dashboards asking for many users' recent orders at once
(POST /v1/orders/batch), beside customers paging through their own orders.

    make loadtest SCENARIO=slow-orders USERS=20 DURATION=2m

The load asks for the resellers and for four ordinary buyers in five: the others (ids that are
multiples of RESERVE_EVERY) are kept for `drill verify`'s own requests.
"""

import random

from locust import HttpUser, between, task

from loadgen.hosts import lab_url
from services.orders.seed import seed_data

RESERVE_EVERY = 5


def buyers() -> list[int]:
    """The users this load asks for: every reseller, and the ordinary buyers not kept aside."""
    shop = seed_data()
    special = {*shop.resellers, *shop.wholesale}
    ordinary = [u for u in shop.with_orders if u not in special and u % RESERVE_EVERY]
    return sorted([*shop.resellers, *ordinary])


BUYERS = buyers()
# Per-request timeout: a stalled service shows as failures rather than as hung simulated users.
TIMEOUT_S = 10.0


class DashboardUser(HttpUser):
    """A back-office dashboard and a customer's order history, against the orders service."""

    host = lab_url(8002)
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
