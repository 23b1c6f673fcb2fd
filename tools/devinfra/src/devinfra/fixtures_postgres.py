"""Session fixtures for a real PostgreSQL: one server per test session, a fresh database per asking test.

With EP_TEST_POSTGRES_URL set (an admin URL such as postgresql://user:pw@host:5432/postgres) the tests use
that server; otherwise the session starts a throw-away cluster in a temporary dir and stops it by pid.
"""

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devinfra.postgres import ExistingPostgres, PostgresCluster, PostgresServer

ENV_URL = "EP_TEST_POSTGRES_URL"
# PostgreSQL truncates identifiers at 63 bytes; keep room for "_" and the 8-character suffix.
_MAX_PREFIX = 54


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server: EP_TEST_POSTGRES_URL's, or a cluster started for this session."""
    admin_url = os.environ.get(ENV_URL)
    if admin_url:
        yield ExistingPostgres(admin_url)
        return
    # Not under pytest's basetemp: every pytest session chmods /tmp/pytest-of-<user> to 0700, which would
    # lock the server (running as the postgres user) out of its own files while it runs.
    base = Path(tempfile.mkdtemp(prefix="ep-test-postgres-"))
    cluster = PostgresCluster(base / "data")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url_factory(postgres_cluster: PostgresServer) -> Iterator[Callable[[str], str]]:
    """`make_url("case_api")` creates database case_api_<8 hex> and returns its postgresql+asyncpg URL."""
    created: list[str] = []

    def make_url(name_prefix: str) -> str:
        prefix = re.sub(r"[^a-z0-9_]", "_", name_prefix.lower())[:_MAX_PREFIX] or "test"
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        url = postgres_cluster.create_database(name)
        created.append(name)
        return url

    yield make_url
    for name in created:
        postgres_cluster.drop_database(name)
