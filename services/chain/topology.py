"""Which chain service calls which: each serves its part of a quote and asks the next."""

CALLS: dict[str, str | None] = {
    "service-a": "service-b",
    "service-b": "service-c",
    "service-c": "service-a",
}
"""The service each chain service calls (None: it calls nobody)."""

TITLES = {
    "service-a": "Quotes (service-a)",
    "service-b": "Pricing (service-b)",
    "service-c": "Loyalty (service-c)",
}
