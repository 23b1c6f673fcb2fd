"""The notifier's declarative base, its processed-event ledger and its outbox; the request's session dependency is
service-kit's (service_kit.unit_of_work), re-exported."""

from sqlalchemy.orm import DeclarativeBase

from service_kit.consumer import ProcessedEventMixin
from service_kit.db import new_metadata
from service_kit.outbox import OutboxMixin
from service_kit.unit_of_work import SessionDep, get_session

__all__ = ["Base", "OutboxRecord", "ProcessedEvent", "SessionDep", "get_session"]


class Base(DeclarativeBase):
    metadata = new_metadata()


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class OutboxRecord(OutboxMixin, Base):
    """notification.* events, written in the transaction that changes the notification."""
