"""Every change of a case reports itself: an event in the outbox, in the same transaction."""

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from case_api.config import Settings
from case_api.db import OutboxRecord
from eviction_schemas.envelope import make_event
from eviction_schemas.registry import validate_data
from service_kit.clock import Clock
from service_kit.outbox import add_event


class EventSubject(Protocol):
    """A case: the pseudonymous id events carry, and the counter that orders its events."""

    id: str
    last_event_sequence: int


async def emit(
    session: AsyncSession,
    *,
    settings: Settings,
    clock: Clock,
    case: EventSubject,
    event: str,
    data: dict[str, Any],
    traceparent: str | None = None,
) -> None:
    validate_data(event, data)  # a producer never writes an event its own contract refuses
    case.last_event_sequence += 1
    envelope = make_event(
        event=event,
        source_service=settings.service_name,
        oin=settings.oin,
        subject=case.id,
        sequence=case.last_event_sequence,
        data=data,
        time=clock.now(),
        traceparent=traceparent,
    )
    add_event(session, OutboxRecord, topic=settings.case_events_topic, event=envelope, now=clock.now())
