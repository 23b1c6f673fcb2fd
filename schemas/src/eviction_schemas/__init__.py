"""Wire contracts of the eviction-prevention platform: the CloudEvents envelope (`envelope`), the JSON Schemas
and golden samples (`registry`), and the event catalogue (`catalogue`). Imports no service."""
