"""Locust load for each scenario: `make loadtest SCENARIO=<id>` runs loadgen/<id>.py headless."""
