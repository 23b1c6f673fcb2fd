"""The partner gateway's migrations build exactly the schema of its models on SQLite (`make run`) and on
PostgreSQL (production), and take it down again."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# Imported for their effect: they register the tables on Base.metadata.
import partner_gateway.deliveries.models
import partner_gateway.inbound.models
import partner_gateway.partners.models  # noqa: F401
from partner_gateway.db import Base
from partner_gateway.migrate import SCRIPT_LOCATION
from service_kit.migrations import alembic_config, upgrade_to_head

TABLES = {
    "partner",
    "subscription",
    "delivery",
    "delivery_attempt",
    "processed_event",
    "outbox",
    "inbound_message",
    "reference_map",
    "signal_file",
}


async def schema_of(url: str) -> tuple[set[str], list[Any]]:
    """The tables in the database, and how they differ from the models (alembic's autogenerate diff)."""

    def look(connection: Connection) -> tuple[set[str], list[Any]]:
        tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return tables, list(compare_metadata(context, Base.metadata))

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(look)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url_factory: Callable[[str], str]
) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'partner_gateway.sqlite3'}"
    return postgres_url_factory("gateway_migrations")


async def test_migrations_build_the_models_schema_and_downgrade_to_base(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, SCRIPT_LOCATION, empty_database_url)
    tables, differences = await schema_of(empty_database_url)
    assert tables == TABLES
    assert differences == [], "the migrations and the models disagree; write a migration"

    config = alembic_config(SCRIPT_LOCATION, empty_database_url)
    await asyncio.to_thread(command.downgrade, config, "base")
    tables, _ = await schema_of(empty_database_url)
    assert tables == set()

    # And up again: a downgrade leaves nothing behind that stops the next upgrade.
    await asyncio.to_thread(upgrade_to_head, SCRIPT_LOCATION, empty_database_url)
    tables, differences = await schema_of(empty_database_url)
    assert (tables, differences) == (TABLES, [])
