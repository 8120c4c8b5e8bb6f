"""The receiver's memory: spans grouped by trace, the most recently added trace last, bounded."""

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace

from drill.traces.spans import Span

# Enough for a drill's worth of requests (a batch on orders is a few hundred spans); the oldest
# traces go first when a load test sends more.
DEFAULT_MAX_SPANS = 200_000


class TraceStore:
    """Spans by trace, in memory. Safe to use from several threads."""

    def __init__(self, max_spans: int = DEFAULT_MAX_SPANS) -> None:
        if max_spans < 1:
            raise ValueError("max_spans must be at least 1")
        self.max_spans = max_spans
        self._lock = threading.Lock()
        # trace_id -> its spans in arrival order; a trace moves to the end when a span arrives.
        self._traces: OrderedDict[str, list[Span]] = OrderedDict()
        self._spans = 0
        self._received = 0
        self._dropped = 0

    def add(self, spans: Iterable[Span]) -> int:
        """Keep the spans (each numbered in arrival order); return how many arrived."""
        added = 0
        with self._lock:
            for span in spans:
                self._received += 1
                added += 1
                numbered = replace(span, seq=self._received)
                self._traces.setdefault(span.trace_id, []).append(numbered)
                self._traces.move_to_end(span.trace_id)
                self._spans += 1
            while self._spans > self.max_spans and len(self._traces) > 1:
                _, evicted = self._traces.popitem(last=False)
                self._spans -= len(evicted)
                self._dropped += len(evicted)
        return added

    def traces(self, limit: int, service: str | None = None) -> list[list[Span]]:
        """The `limit` traces that last received a span, newest first; with `service`, only
        traces holding a span of that service."""
        found: list[list[Span]] = []
        with self._lock:
            for spans in reversed(self._traces.values()):
                if len(found) >= limit:
                    break
                if service is None or any(span.service == service for span in spans):
                    found.append(list(spans))
        return found

    def trace(self, trace_id: str) -> list[Span] | None:
        """Every span of the trace received so far, or None for a trace it does not hold."""
        with self._lock:
            spans = self._traces.get(trace_id)
            return list(spans) if spans is not None else None

    def since(self, seq: int, limit: int) -> list[Span]:
        """Spans received after the `seq`-th, in arrival order, at most `limit` of them."""
        newer: list[list[Span]] = []
        with self._lock:
            for spans in reversed(self._traces.values()):
                # Traces are ordered by their last arrival: the rest arrived before `seq`.
                if spans[-1].seq <= seq:
                    break
                newer.append([span for span in spans if span.seq > seq])
        flat = sorted((span for spans in newer for span in spans), key=lambda span: span.seq)
        return flat[:limit]

    def clear(self) -> None:
        """Forget every span (the count of spans received goes on)."""
        with self._lock:
            self._traces.clear()
            self._spans = 0

    def stats(self) -> dict[str, int]:
        """Counts: spans and traces held, spans received in all, spans dropped for room."""
        with self._lock:
            return {
                "spans": self._spans,
                "traces": len(self._traces),
                "received": self._received,
                "dropped": self._dropped,
            }
