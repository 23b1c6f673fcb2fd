"""Session fixtures for a real PostgreSQL: one server per test session, a fresh database per asking test.

With EP_TEST_POSTGRES_URL set (an admin URL such as postgresql://user:pw@host:5432/postgres) the tests use
that server; otherwise the session starts a throw-away cluster in a temporary dir and stops it by pid.
"""

import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
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


def _asyncpg_dsn(database_url: str) -> str:
    """postgresql+asyncpg://... (SQLAlchemy's URL) as asyncpg's own DSN."""
    scheme, rest = database_url.split("://", 1)
    if scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {scheme}://...")
    return f"postgresql://{rest}"


@contextlib.asynccontextmanager
async def commits_refused(database_url: str, table: str) -> AsyncIterator[None]:
    """While inside, every transaction that wrote a row of `table` fails at COMMIT, as a real commit can (a
    deferred constraint, a serialization failure, the connection lost at that moment): a deferred constraint
    trigger on the real PostgreSQL. For proving that an answer is never 2xx when its commit failed."""
    trigger = f"devinfra_refuse_commit_{uuid.uuid4().hex[:8]}"
    quoted = '"' + table.replace('"', '""') + '"'
    conn = await asyncpg.connect(dsn=_asyncpg_dsn(database_url), timeout=10)
    try:
        await conn.execute(
            "CREATE OR REPLACE FUNCTION devinfra_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'commit refused by the test (devinfra.commits_refused)' USING ERRCODE = '40001'; END $$"
        )
        await conn.execute(
            f"CREATE CONSTRAINT TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {quoted} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION devinfra_refuse_commit()"
        )
        try:
            yield
        finally:
            await conn.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {quoted}")
    finally:
        await conn.close()


@pytest.fixture
def refuse_commits() -> Callable[[str, str], contextlib.AbstractAsyncContextManager[None]]:
    """`async with refuse_commits(database_url, "outbox"):` commits writing that table fail (commits_refused)."""
    return commits_refused
