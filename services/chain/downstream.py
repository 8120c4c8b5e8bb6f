"""The client a chain service uses to call the next one: JSON in, JSON out, errors as problems."""

import logging
import time
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from services.chain.metrics import ChainMetrics
from services.chain.pool import CALLER_HEADER
from services.kit.errors import Problem
from services.kit.logging import fields

logger = logging.getLogger("chain.downstream")

# A callee that is restarting refuses connections for a moment: try again a few times.
CONNECT_ATTEMPTS = 4


class Downstream:
    """One service this service calls."""

    def __init__(
        self, *, caller: str, callee: str, base_url: str, timeout_s: float, metrics: ChainMetrics
    ) -> None:
        self.caller = caller
        self.callee = callee
        self.timeout_s = timeout_s
        self.metrics = metrics
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout_s,
            headers={CALLER_HEADER: caller},
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send one request and return its JSON body; a failure becomes a Problem."""
        started = time.perf_counter()
        waiting = self.metrics.upstream_wait.labels(self.caller, self.callee)
        waiting.inc()
        try:
            response = await self._send(method, path, body)
        except httpx.TimeoutException as exc:
            waited = time.perf_counter() - started
            self._count("timeout")
            self.metrics.upstream_timeouts.labels(self.caller, self.callee).inc()
            logger.error(
                "%s waited %.1f s for %s (%s %s) and gave up",
                self.caller,
                waited,
                self.callee,
                method,
                path,
                extra=fields(
                    "upstream_timeout",
                    caller=self.caller,
                    callee=self.callee,
                    path=path,
                    waited_s=round(waited, 3),
                    timeout_s=self.timeout_s,
                ),
            )
            raise Problem(
                504,
                "upstream_timeout",
                "Upstream service timed out",
                f"{self.callee} did not answer {method} {path} within {self.timeout_s:g} s",
            ) from exc
        finally:
            waiting.dec()
        return self._unwrap(response, method, path)

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(httpx.ConnectError),
            stop=stop_after_attempt(CONNECT_ATTEMPTS),
            wait=wait_exponential(multiplier=0.5, max=2),
            reraise=True,
        ):
            with attempt:
                return await self.http.request(method, path, json=body)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _unwrap(self, response: httpx.Response, method: str, path: str) -> Any:
        if response.status_code < 400:
            self._count("ok")
            return response.json()
        problem = _problem_body(response)
        if response.status_code < 500:
            # The caller's request was wrong (an unknown sku, say): pass the verdict on as is.
            self._count("rejected")
            raise Problem(
                response.status_code,
                str(problem.get("error_code") or "upstream_rejected"),
                str(problem.get("title") or "Rejected by an upstream service"),
                problem.get("detail"),
            )
        self._count("error")
        raise Problem(
            502,
            "upstream_error",
            "Upstream service failed",
            f"{self.callee} answered {method} {path} with HTTP {response.status_code} "
            f"({problem.get('error_code') or 'no error_code'})",
        )

    def _count(self, outcome: str) -> None:
        self.metrics.upstream_calls.labels(self.caller, self.callee, outcome).inc()


def _problem_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
