"""case-api's migrations go up to head and back down to base on both databases it runs on."""

import asyncio
from collections.abc import Callable

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from case_api.all_models import metadata
from case_api.migrate import SCRIPT_LOCATION
from service_kit.db import make_engine
from service_kit.migrations import alembic_config, upgrade_to_head

# Every table the models declare (all_models imports each domain package): a new package's tables are
# covered as soon as they are registered there.
TABLES = set(metadata.tables)


async def tables(url: str) -> set[str]:
    engine = make_engine(url)

    def names(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(names)
    finally:
        await engine.dispose()


def downgrade_to_base(url: str) -> None:
    command.downgrade(alembic_config(SCRIPT_LOCATION, url), "base")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    factory: Callable[[str], str] = request.getfixturevalue("postgres_url_factory")
    return factory("case_api_migrations")


def test_the_tables_under_test_include_the_core_ones() -> None:
    # So an empty or partly imported metadata cannot make the tests below pass vacuously.
    assert {"case", "household", "household_member", "signal", "outbox"} <= TABLES


async def test_migrations_upgrade_to_head_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, SCRIPT_LOCATION, database_url)
    assert await tables(database_url) == TABLES | {"alembic_version"}

    await asyncio.to_thread(downgrade_to_base, database_url)
    assert await tables(database_url) == {"alembic_version"}

    # Nothing the downgrade left behind (an index, a constraint name) stands in the way of the next upgrade.
    await asyncio.to_thread(upgrade_to_head, SCRIPT_LOCATION, database_url)
    assert await tables(database_url) == TABLES | {"alembic_version"}


async def test_upgrading_a_database_already_at_head_changes_nothing(sqlite_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, SCRIPT_LOCATION, sqlite_url)
    await asyncio.to_thread(upgrade_to_head, SCRIPT_LOCATION, sqlite_url)

    assert await tables(sqlite_url) == TABLES | {"alembic_version"}
