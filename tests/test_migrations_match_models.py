"""Each service's migrations build exactly the tables its models declare (the services' `all_models`), on
PostgreSQL and on SQLite, take them down to nothing, and build them again."""

import asyncio
import importlib
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect

from service_kit.db import make_engine
from service_kit.migrations import alembic_config, upgrade_to_head

PACKAGES = ("case_api", "notifier", "partner_gateway")


def metadata_of(package: str) -> MetaData:
    return importlib.import_module(f"{package}.all_models").metadata  # type: ignore[no-any-return]


async def schema_of(url: str, metadata: MetaData) -> tuple[set[str], list[object]]:
    """The tables in the database, and how they differ from the models (alembic's autogenerate diff)."""
    engine = make_engine(url)

    def look(connection: Connection) -> tuple[set[str], list[object]]:
        tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
        return tables, list(compare_metadata(MigrationContext.configure(connection), metadata))

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


async def round_trip(package: str, url: str) -> None:
    metadata = metadata_of(package)
    script_location = f"{package}:migrations"
    await asyncio.to_thread(upgrade_to_head, script_location, url)
    assert await schema_of(url, metadata) == (set(metadata.tables), []), "models and migrations disagree"
    await asyncio.to_thread(command.downgrade, alembic_config(script_location, url), "base")
    assert (await schema_of(url, metadata))[0] == set(), "a downgrade to base leaves tables behind"
    await asyncio.to_thread(upgrade_to_head, script_location, url)
    await asyncio.to_thread(upgrade_to_head, script_location, url)  # at head already: changes nothing
    assert await schema_of(url, metadata) == (set(metadata.tables), [])


@pytest.mark.postgres
@pytest.mark.parametrize("package", PACKAGES)
async def test_migrations_match_models_on_postgresql(package: str, postgres_url_factory: Callable[[str], str]) -> None:
    await round_trip(package, postgres_url_factory(f"{package}_drift"))


@pytest.mark.parametrize("package", PACKAGES)
async def test_migrations_match_models_on_sqlite(package: str, tmp_path: Path) -> None:
    await round_trip(package, f"sqlite+aiosqlite:///{tmp_path / 'drift.sqlite3'}")


def test_the_schemas_hold_the_core_tables() -> None:
    assert {"case", "household", "household_member", "signal", "outbox", "processing_log"} <= set(
        metadata_of("case_api").tables
    )
    assert {"notification", "processed_event"} <= set(metadata_of("notifier").tables)
    assert {"partner", "subscription", "delivery", "inbound_message", "outbox"} <= set(
        metadata_of("partner_gateway").tables
    )
