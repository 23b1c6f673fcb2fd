"""pytest plugin (loaded by the root pyproject's addopts): the real infrastructure of a test run.

A test asks for `kafka_broker` / `kafka_bootstrap` or `postgres_cluster` / `postgres_url_factory`; the
first request starts the part once per session on free loopback ports and the session stops it by pid.
`refuse_commits` makes a table's commits fail on the real PostgreSQL; `dev_key` signs bearer tokens.
"""

from devinfra.fixtures_auth import dev_key
from devinfra.fixtures_kafka import kafka_bootstrap, kafka_broker
from devinfra.fixtures_postgres import postgres_cluster, postgres_url_factory, refuse_commits

__all__ = ["dev_key", "kafka_bootstrap", "kafka_broker", "postgres_cluster", "postgres_url_factory", "refuse_commits"]
