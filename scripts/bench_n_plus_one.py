"""Measure the orders service the lab runs: latency and DB statements per batch, by batch size.

    DRILL_PORT_OFFSET=200 .venv/bin/python scripts/bench_n_plus_one.py [--quick]

Sizes 1, 10, 100 and 500 users (all with orders), a few batches each, CONCURRENCY at a time;
prints P50/P99 latency and statements per batch (each response's Server-Timing header). On the
poisoned code a 500-user batch takes most of a minute: --quick sends one batch per size there.
"""

import asyncio
import random
import sys
import time

import httpx

from drill.grading import percentile
from drill.scenarios.n_plus_one import OrdersLab, work_of
from drill.scenarios.n_plus_one_data import load_buyers
from drill.services import SERVICES

SIZES = (1, 10, 100, 500)
CONCURRENCY = 3
TIMEOUT_S = 300.0


async def measure(lab: OrdersLab, size: int, batches: int, rng: random.Random) -> str:
    buyers = list(load_buyers())
    latencies: list[float] = []
    statements: list[int] = []
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with gate:
            start = time.perf_counter()
            response = await lab.batch(rng.sample(buyers, size), timeout=TIMEOUT_S)
            response.raise_for_status()
            latencies.append(time.perf_counter() - start)
            work = work_of(response)
            statements.append(work.statements if work else -1)

    await asyncio.gather(*(one() for _ in range(batches)))
    per_batch = sum(statements) / len(statements)
    return (
        f"| {size} | {batches} | {percentile(latencies, 50) * 1000:.0f} ms "
        f"| {percentile(latencies, 99) * 1000:.0f} ms | {per_batch:.0f} |"
    )


async def main(quick: bool) -> None:
    rng = random.Random(6_3)  # noqa: S311 - repeatable samples, nothing secret
    async with httpx.AsyncClient() as http:
        lab = OrdersLab(http, SERVICES["orders"].url, SERVICES["catalog"].url)
        print("| users per batch | batches | P50 | P99 | statements per batch |")
        print("|---|---|---|---|---|")
        for size in SIZES:
            batches = 1 if quick and size >= 100 else (3 if quick else 30)
            print(await measure(lab, size, batches, rng), flush=True)


if __name__ == "__main__":
    asyncio.run(main("--quick" in sys.argv))
