"""Catalog: the slow "external" product API of the `n-plus-one` drill (port 8003)."""
