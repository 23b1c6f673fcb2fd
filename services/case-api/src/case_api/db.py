"""case-api's declarative base, its outbox table, its processed-event ledger; the request's session dependency is
service-kit's (service_kit.unit_of_work), re-exported."""

from sqlalchemy.orm import DeclarativeBase

from service_kit.consumer import ProcessedEventMixin
from service_kit.db import new_metadata
from service_kit.outbox import OutboxMixin
from service_kit.unit_of_work import SessionDep, get_session

__all__ = ["Base", "OutboxRecord", "ProcessedEvent", "SessionDep", "get_session"]


class Base(DeclarativeBase):
    metadata = new_metadata()


class OutboxRecord(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    """The ids of events case-api's consumer has applied (workers/notification_events.py), per consumer group."""
