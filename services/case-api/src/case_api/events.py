"""Every change of a case reports itself: an event in the outbox, in the same transaction."""

from typing import Any, Protocol

from case_api.context import Context
from case_api.db import OutboxRecord
from eviction_schemas.envelope import make_event
from eviction_schemas.registry import validate_data
from service_kit.outbox import add_event


class EventSubject(Protocol):
    """A case: the pseudonymous id events carry, and the counter that orders its events."""

    id: str
    last_event_sequence: int


def emit(ctx: Context, *, case: EventSubject, event: str, data: dict[str, Any]) -> None:
    """Stage `event` for `case`. The caller holds the case row locked (`CaseRepository.get_for_update`), so
    two concurrent changes of one case cannot take the same sequence number."""
    validate_data(event, data)  # a producer never writes an event its own contract refuses
    case.last_event_sequence += 1
    envelope = make_event(
        event=event,
        source_service=ctx.settings.service_name,
        oin=ctx.settings.oin,
        subject=case.id,
        sequence=case.last_event_sequence,
        data=data,
        time=ctx.clock.now(),
        traceparent=ctx.traceparent,
    )
    add_event(ctx.session, OutboxRecord, topic=ctx.settings.case_events_topic, event=envelope, now=ctx.clock.now())
