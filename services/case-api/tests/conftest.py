"""Fixtures of case-api's tests: a migrated PostgreSQL database, settings and an in-process client."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from case_api_fixtures import TEAM, bearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.config import Settings
from case_api.main import create_app
from case_api.migrate import SCRIPT_LOCATION
from devinfra.devkey import DevKey
from devinfra.ports import free_port
from service_kit.clock import FixedClock
from service_kit.db import make_engine, make_session_factory
from service_kit.migrations import upgrade_to_head

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def case_api_settings(database_url: str, dev_key: DevKey | None = None, **overrides: object) -> Settings:
    """Settings from arguments only: no .env file and no CASE_API_* variable of the machine leak in."""
    values: dict[str, object] = {
        "database_url": database_url,
        # Nothing listens there: the API must never need Kafka (only the relay talks to it).
        "kafka_bootstrap_servers": f"127.0.0.1:{free_port()}",
        **({"oidc_jwks_url": str(dev_key.jwks_path)} if dev_key else {}),
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="module")
async def case_api_db(postgres_url_factory: Callable[[str], str]) -> str:
    """A PostgreSQL database at the newest schema, shared by one test module."""
    url = postgres_url_factory("case_api_test")
    await asyncio.to_thread(upgrade_to_head, SCRIPT_LOCATION, url)
    return url


@pytest.fixture
async def sessions(case_api_db: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(case_api_db)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@asynccontextmanager
async def serve(
    settings: Settings, clock: FixedClock, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """case-api in process with its lifespan; a crash answers 500 as under uvicorn instead of raising."""
    app = create_app(settings, clock)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://case-api", headers=headers) as client,
    ):
        yield client


@pytest.fixture
def case_api_client(
    case_api_db: str, clock: FixedClock, dev_key: DevKey
) -> Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]:
    """`async with case_api_client() as client:` a client acting as a team lead of TEAM unless `roles`/`team`
    say otherwise (`roles=()` sends no token)."""

    def make(
        database_url: str = case_api_db,
        *,
        roles: tuple[str, ...] = ("team_lead",),
        team: str | None = TEAM,
        **overrides: object,
    ) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        headers = bearer(dev_key, *roles, team=team) if roles else None
        return serve(case_api_settings(database_url, dev_key, **overrides), clock, headers)

    return make


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'case_api.sqlite3'}"
