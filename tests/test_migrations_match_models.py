"""Each service's migrations build exactly the tables its models declare, on PostgreSQL and on SQLite."""

import asyncio
import importlib
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData

from service_kit.db import make_engine
from service_kit.migrations import upgrade_to_head

SERVICES = {
    "case_api": ["case_api.all_models"],
    "notifier": ["notifier.notifications.models"],
    "partner_gateway": [
        "partner_gateway.partners.models",
        "partner_gateway.deliveries.models",
        "partner_gateway.inbound.models",
        "partner_gateway.signal_files.models",
    ],
}


def metadata_of(package: str) -> MetaData:
    for module in SERVICES[package]:
        importlib.import_module(module)
    base = importlib.import_module(f"{package}.db").Base
    return base.metadata  # type: ignore[no-any-return]


async def differences(url: str, metadata: MetaData) -> list[object]:
    engine = make_engine(url)

    def compare(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("package", sorted(SERVICES))
async def test_migrations_match_models_on_postgresql(package: str, postgres_url_factory: Callable[[str], str]) -> None:
    url = postgres_url_factory(f"{package}_drift")
    await asyncio.to_thread(upgrade_to_head, f"{package}:migrations", url)
    assert await differences(url, metadata_of(package)) == []


@pytest.mark.parametrize("package", sorted(SERVICES))
async def test_migrations_match_models_on_sqlite(package: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'drift.sqlite3'}"
    await asyncio.to_thread(upgrade_to_head, f"{package}:migrations", url)
    assert await differences(url, metadata_of(package)) == []
