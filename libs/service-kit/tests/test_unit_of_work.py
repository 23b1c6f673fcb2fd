"""The request's one transaction (service_kit.unit_of_work.SessionDep) on the real PostgreSQL: committed before
the answer, so a commit that fails is never answered 2xx; rolled back when the endpoint refuses."""

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, status
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from devinfra.ports import free_port
from service_kit.app import create_service_app
from service_kit.db import make_engine, new_metadata
from service_kit.errors import Conflict
from service_kit.settings import ServiceSettings
from service_kit.unit_of_work import SessionDep, get_session

pytestmark = pytest.mark.postgres

Serve = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
RefuseCommits = Callable[[str, str], AbstractAsyncContextManager[None]]


class Base(DeclarativeBase):
    metadata = new_metadata()


class Note(Base):
    __tablename__ = "note"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    text: Mapped[str] = mapped_column(String(200))


def notes_router() -> APIRouter:
    router = APIRouter()

    @router.post("/notes", status_code=status.HTTP_201_CREATED)
    async def add(text: str, session: SessionDep) -> dict[str, str]:
        note = Note(id=str(uuid.uuid4()), text=text)
        session.add(note)
        return {"id": note.id}

    @router.post("/notes/refused")
    async def refuse(text: str, session: SessionDep) -> dict[str, str]:
        session.add(Note(id=str(uuid.uuid4()), text=text))
        await session.flush()
        raise Conflict("this note is refused after it was written", field="text")

    # FastAPI's default scope ("request"), as the notifier declared it before: the commit runs after the answer.
    late = Annotated[AsyncSession, Depends(get_session)]

    @router.post("/notes/committed-late", status_code=status.HTTP_201_CREATED)
    async def add_late(text: str, session: late) -> dict[str, str]:
        session.add(Note(id=str(uuid.uuid4()), text=text))
        return {"ok": "answered"}

    return router


@pytest.fixture
async def database_url(postgres_url_factory: Callable[[str], str]) -> str:
    url = postgres_url_factory("kit_unit_of_work")
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()
    return url


@pytest.fixture
def app(database_url: str, kit_settings: Callable[..., ServiceSettings]) -> FastAPI:
    settings = kit_settings(database_url=database_url, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    return create_service_app(settings=settings, title="kit test", description="unit of work", routers=[notes_router()])


async def stored_notes(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            return list((await connection.scalars(select(Note.text).order_by(Note.text))).all())
    finally:
        await engine.dispose()


async def test_a_write_is_committed_before_it_is_answered(app: FastAPI, client_of: Serve, database_url: str) -> None:
    async with client_of(app) as client:
        answer = await client.post("/notes", params={"text": "kept"})
    assert answer.status_code == 201, answer.text
    assert await stored_notes(database_url) == ["kept"]


async def test_a_commit_that_fails_is_answered_500_not_2xx(
    app: FastAPI, client_of: Serve, database_url: str, refuse_commits: RefuseCommits
) -> None:
    async with client_of(app) as client, refuse_commits(database_url, "note"):
        answer = await client.post("/notes", params={"text": "lost"})
    assert answer.status_code == 500, answer.text
    assert await stored_notes(database_url) == []


async def test_a_refusal_rolls_back_what_the_endpoint_wrote(app: FastAPI, client_of: Serve, database_url: str) -> None:
    async with client_of(app) as client:
        answer = await client.post("/notes/refused", params={"text": "undone"})
    assert answer.status_code == 409, answer.text
    assert answer.json()["field"] == "text"
    assert await stored_notes(database_url) == []


async def test_fastapi_s_default_scope_would_answer_2xx_for_a_lost_commit(
    app: FastAPI, client_of: Serve, database_url: str, refuse_commits: RefuseCommits
) -> None:
    """Why SessionDep says scope="function": with FastAPI's default the answer is out before the commit fails."""
    async with client_of(app) as client, refuse_commits(database_url, "note"):
        answer = await client.post("/notes/committed-late", params={"text": "lost"})
    assert answer.status_code == 201  # answered as stored...
    assert await stored_notes(database_url) == []  # ...and lost
