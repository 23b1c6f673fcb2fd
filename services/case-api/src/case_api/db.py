"""case-api's declarative base, its outbox table, its processed-event ledger, and the request's session dependency."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from service_kit.consumer import ProcessedEventMixin
from service_kit.db import new_metadata, session_scope
from service_kit.outbox import OutboxMixin


class Base(DeclarativeBase):
    metadata = new_metadata()


class OutboxRecord(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    """The ids of events case-api's consumer has applied (workers/notification_events.py), per consumer group."""


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed after the endpoint returns, rolled back on error."""
    async for session in session_scope(request.app.state.session_factory):
        yield session


# scope="function": the commit runs before the response is sent, so a failed commit is never answered 2xx.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
