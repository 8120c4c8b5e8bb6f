"""Locust load for each drill: `make loadtest SCENARIO=<drill>` runs loadgen/<drill>.py headless
(the codename with underscores)."""
