"""Which chain service calls which: each serves its part of a quote and asks the next.

The calls form a line, a -> b -> c, never a cycle: what a service further down needs travels
with the request (service-a sends the customer's tier), so no service waits on one upstream of
it while holding a worker that upstream may need.
"""

CALLS: dict[str, str | None] = {
    "service-a": "service-b",
    "service-b": "service-c",
    "service-c": None,
}
"""The service each chain service calls (None: it calls nobody)."""

TITLES = {
    "service-a": "Quotes (service-a)",
    "service-b": "Pricing (service-b)",
    "service-c": "Loyalty (service-c)",
}
