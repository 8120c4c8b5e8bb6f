"""Locust load for each drill: `make loadtest SCENARIO=<id>` runs loadgen/<id>.py."""
