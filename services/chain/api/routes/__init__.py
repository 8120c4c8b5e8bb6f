"""One router module per chain service."""
