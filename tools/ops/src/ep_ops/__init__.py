"""The operator's tools of the eviction-prevention platform (issue 6, point 5): `ep-ops --help`."""
