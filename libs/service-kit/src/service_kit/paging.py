"""Limits every paginated list shares."""

# Offsets beyond this are refused (400) instead of reaching the database: deeper pages use filters or cursors.
MAX_OFFSET = 1_000_000
