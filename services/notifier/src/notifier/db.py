"""The notifier's declarative base, its processed-event ledger, its outbox, and the request's session dependency."""

from collections.abc import AsyncIterator

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from service_kit.consumer import ProcessedEventMixin
from service_kit.db import new_metadata, session_scope
from service_kit.outbox import OutboxMixin


class Base(DeclarativeBase):
    metadata = new_metadata()


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class OutboxRecord(OutboxMixin, Base):
    """notification.* events, written in the transaction that changes the notification."""


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in session_scope(request.app.state.session_factory):
        yield session
