"""Orders: users, their orders and order lines, priced through catalog (port 8002)."""
