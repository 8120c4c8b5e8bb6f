"""Billing: the ledger service of the `float-drift` drill (port 8001)."""
