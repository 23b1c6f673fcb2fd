"""Session fixtures for a real PostgreSQL: one server per test session, a fresh database per asking test.

With EP_TEST_POSTGRES_URL set (an admin URL such as postgresql://user:pw@host:5432/postgres) the tests use
that server; otherwise the session starts a throw-away cluster in its tmp dir and stops it by pid at the end.
"""

import os
import re
import uuid
from collections.abc import Callable, Iterator

import pytest

from devinfra.postgres import ExistingPostgres, PostgresCluster, PostgresServer

ENV_URL = "EP_TEST_POSTGRES_URL"
# PostgreSQL truncates identifiers at 63 bytes; keep room for "_" and the 8-character suffix.
_MAX_PREFIX = 54


@pytest.fixture(scope="session")
def postgres_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """The session's PostgreSQL server: EP_TEST_POSTGRES_URL's, or a cluster started for this session."""
    admin_url = os.environ.get(ENV_URL)
    if admin_url:
        yield ExistingPostgres(admin_url)
        return
    cluster = PostgresCluster(tmp_path_factory.mktemp("postgres") / "data")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


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
