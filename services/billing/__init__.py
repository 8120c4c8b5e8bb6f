"""Billing: the ledger service (port 8001)."""
