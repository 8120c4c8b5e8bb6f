"""The client a chain service uses to call the next one: JSON in, JSON out, errors as problems.

Every call carries the request's shrinking deadline and path (see hops.py) and goes through a
circuit breaker (purgatory): after BREAKER_THRESHOLD failures in a row the callee is not called
for BREAKER_TTL_S, and callers get a 503 at once instead of waiting on a service that is down.
"""

import logging
import time
from typing import Any

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from services.chain.hops import Hop
from services.chain.metrics import ChainMetrics
from services.chain.pool import CALLER_HEADER
from services.kit.errors import RETRY_AFTER_S, Problem
from services.kit.logging import fields

logger = logging.getLogger("chain.downstream")

BREAKER_THRESHOLD = 5
# Short, so a callee that comes back is used again within seconds (one trial call, half-open).
BREAKER_TTL_S = 3
# Statuses of a callee's own problem that say "not now" rather than "broken": passed on as is.
PASSED_ON = frozenset({503, 504})
# A callee's verdict on the request itself (it came back around, or its budget was spent before
# the callee could start): it says nothing about the callee's health, so it is passed on as is and
# never counted by the breaker. Else a client sending a spent budget or a forged path a few times
# in a row would open the circuit for every other client.
REQUEST_VERDICTS = frozenset({"call_loop", "deadline_exceeded"})


class UpstreamFailed(Exception):
    """The callee answered 5xx: counted by the breaker as a failure."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class Downstream:
    """One service this service calls."""

    def __init__(
        self, *, caller: str, callee: str, base_url: str, timeout_s: float, metrics: ChainMetrics
    ) -> None:
        self.caller = caller
        self.callee = callee
        self.timeout_s = timeout_s
        self.metrics = metrics
        self.breakers = AsyncCircuitBreakerFactory(
            default_threshold=BREAKER_THRESHOLD, default_ttl=BREAKER_TTL_S
        )
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout_s,
            headers={CALLER_HEADER: caller},
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, hop: Hop
    ) -> Any:
        """Send one request within the hop's deadline and return its JSON body."""
        hop.ensure_time_left()
        timeout_s = min(self.timeout_s, hop.remaining_s())
        started = time.perf_counter()
        waiting = self.metrics.upstream_wait.labels(self.caller, self.callee)
        waiting.inc()
        try:
            breaker = await self.breakers.get_breaker(self.callee)
            async with breaker:
                response = await self.http.request(
                    method, path, json=body, headers=hop.outbound_headers(), timeout=timeout_s
                )
                if response.status_code >= 500 and not _is_verdict(response):
                    raise UpstreamFailed(response)
        except OpenedState as exc:
            self._count("circuit_open")
            raise Problem(
                503,
                "circuit_open",
                "Upstream circuit open",
                f"{self.callee} failed {BREAKER_THRESHOLD} times in a row; {self.caller} stops "
                f"calling it for {BREAKER_TTL_S} s",
                headers={"Retry-After": str(BREAKER_TTL_S)},
            ) from exc
        except httpx.TimeoutException as exc:
            raise self._timed_out(method, path, time.perf_counter() - started, timeout_s) from exc
        except httpx.TransportError as exc:
            self._count("unreachable")
            raise Problem(
                503,
                "upstream_unavailable",
                "Upstream service unavailable",
                f"{self.caller} cannot reach {self.callee} ({type(exc).__name__})",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from exc
        except UpstreamFailed as failed:
            raise self._failed(failed.response, method, path) from failed
        finally:
            waiting.dec()
        return self._unwrap(response)

    def _timed_out(self, method: str, path: str, waited: float, timeout_s: float) -> Problem:
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
                timeout_s=round(timeout_s, 3),
            ),
        )
        return Problem(
            504,
            "upstream_timeout",
            "Upstream service timed out",
            f"{self.callee} did not answer {method} {path} within {timeout_s:.2f} s",
        )

    def _failed(self, response: httpx.Response, method: str, path: str) -> Problem:
        self._count("error")
        problem = _problem_body(response)
        code = str(problem.get("error_code") or "upstream_error")
        status = response.status_code if response.status_code in PASSED_ON else 502
        return Problem(
            status,
            code if status in PASSED_ON else "upstream_error",
            "Upstream service failed",
            f"{self.callee} answered {method} {path} with HTTP {response.status_code} ({code}): "
            f"{problem.get('detail') or ''}".rstrip(": "),
            headers={"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None,
        )

    def _unwrap(self, response: httpx.Response) -> Any:
        if response.status_code < 400:
            self._count("ok")
            return response.json()
        # The caller's request was wrong (an unknown sku, say) or cannot be served (it came back
        # around, its budget was spent): pass the verdict on as is.
        self._count("rejected")
        problem = _problem_body(response)
        raise Problem(
            response.status_code,
            str(problem.get("error_code") or "upstream_rejected"),
            str(problem.get("title") or "Rejected by an upstream service"),
            problem.get("detail"),
        )

    def _count(self, outcome: str) -> None:
        self.metrics.upstream_calls.labels(self.caller, self.callee, outcome).inc()


def _is_verdict(response: httpx.Response) -> bool:
    return _problem_body(response).get("error_code") in REQUEST_VERDICTS


def _problem_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
