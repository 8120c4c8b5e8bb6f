"""Orders: users, their orders and order lines, priced through catalog; the `n-plus-one` drill
(port 8002)."""
