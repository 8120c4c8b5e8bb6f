"""Questions to a running receiver over HTTP: what `drill traces` and the tests ask."""

from typing import Any

import httpx

from drill.traces.spans import Span

TIMEOUT_S = 10.0


class ReceiverUnreachable(Exception):
    """No receiver answers at the URL (the message says where it looked)."""


def _get(url: str, path: str, params: dict[str, str | int] | None = None) -> Any:
    try:
        response = httpx.get(f"{url}{path}", params=params, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise ReceiverUnreachable(f"no trace receiver answers at {url} ({exc})") from None
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def _spans(raw: list[dict[str, Any]]) -> list[Span]:
    return [Span.from_json(item) for item in raw]


def received(url: str) -> int:
    """How many spans the receiver has received since it started: a mark for `since`."""
    return int(_get(url, "/healthz")["received"])


def traces(url: str, limit: int = 20, service: str | None = None) -> list[list[Span]]:
    """The traces that last received spans, newest first (only those with a span of `service`)."""
    params: dict[str, str | int] = {"limit": limit}
    if service:
        params["service"] = service
    return [_spans(item["spans"]) for item in _get(url, "/api/traces", params)["traces"]]


def trace(url: str, trace_id: str) -> list[Span]:
    """Every span of the trace received so far (none for a trace the receiver does not hold)."""
    found = _get(url, f"/api/traces/{trace_id}")
    return _spans(found["spans"]) if found is not None else []


def since(url: str, seq: int) -> list[Span]:
    """Every span received after the `seq`-th, in arrival order."""
    return _spans(_get(url, "/api/spans", {"since": seq})["spans"])
