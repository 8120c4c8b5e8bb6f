"""The shared service kit: settings, telemetry, JSON logs, metrics, errors and the app factory.

Every service of the lab is built on it, so a trainee finds the same signals everywhere:
`/healthz`, `/readyz`, `/metrics`, problem+json errors and log lines that carry the trace_id.
"""
