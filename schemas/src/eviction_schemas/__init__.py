"""eviction_schemas."""
