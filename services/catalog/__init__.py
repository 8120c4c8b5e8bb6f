"""Catalog: the slow "external" product API that orders prices its lines with (port 8003)."""
