"""The consumer of the notifier's events: `python -m case_api.workers.notification_events`.

A message the notifier sent is a contact attempt on the case (issue 4): notification.sent, and
notification.delivered when no attempt was recorded for its notification yet, become an attempt through the
message's channel (e-mail, SMS, letter; a caseworker task is no message: the caseworker records that contact),
not reached, at the event's time, recorded by the notifier, with contact.attempted as any attempt has.

Each notification is recorded once: the ledger of processed events stops a redelivered event, and the attempt's
unique notification id stops the second event of one notification. An unknown case is logged and skipped, a
closed case still gets its attempt; what cannot be applied after the consumer's retries goes to the dead letters
(`<topic>.dlq.<CASE_API_CONSUMER_GROUP>`).
"""

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from case_api.config import Settings, get_settings
from case_api.contacts.models import ContactAttempt, ContactChannel
from case_api.contacts.service import record_notification_attempt
from case_api.context import Context
from case_api.db import ProcessedEvent
from eviction_schemas.envelope import CloudEvent
from eviction_schemas.registry import validate_data
from service_kit.auth import Principal, Role
from service_kit.clock import Clock, SystemClock
from service_kit.consumer import Handler, consume_until_stopped
from service_kit.errors import NotFound
from service_kit.worker import run_worker

log = logging.getLogger(__name__)

# The processing log (R17) and the attempt name the notifier, whose message the attempt was.
NOTIFIER = Principal(subject="notifier", roles=frozenset({Role.notifier}))
# The events that mean a message went out, and the word the attempt's note uses for each.
RECORDED_EVENTS = {"notification.sent": "sent", "notification.delivered": "delivered"}
# The notifier's channels that reach the household with a message (caseworker_task is the human channel).
MESSAGE_CHANNELS = {"email": ContactChannel.email, "sms": ContactChannel.sms, "letter": ContactChannel.letter}


async def record_notification_event(
    session: AsyncSession, event: CloudEvent, *, settings: Settings, clock: Clock
) -> ContactAttempt | None:
    """Apply one event of the notification topic in `session`; the attempt it recorded, or None."""
    status = RECORDED_EVENTS.get(event.event_name)
    if status is None or event.event_version != 1:
        return None  # requested and failed messages reached nobody
    validate_data(event.event_name, event.data)  # an event its own contract refuses goes to the dead letters
    channel = MESSAGE_CHANNELS.get(event.data["channel"])
    if channel is None:
        return None
    ctx = Context(session=session, settings=settings, clock=clock, principal=NOTIFIER, traceparent=event.traceparent)
    notification_id = str(event.data["notification_id"])
    try:
        attempt = await record_notification_attempt(
            ctx,
            case_id=event.subject,
            notification_id=notification_id,
            channel=channel,
            moment=str(event.data["moment"]),
            attempted_at=event.time,
            status=status,
        )
    except NotFound:
        log.warning("%s %s names case %s, which case-api does not know: skipped", event.type, event.id, event.subject)
        return None
    if attempt is not None:
        log.info("notification %s recorded as contact attempt on case %s", notification_id, event.subject)
    return attempt


def handler(settings: Settings, clock: Clock) -> Handler:
    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await record_notification_event(session, event, settings=settings, clock=clock)

    return handle


async def consume(stop: asyncio.Event) -> None:
    settings = get_settings()
    await consume_until_stopped(
        stop,
        database_url=settings.effective_database_url,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topics=[settings.notification_events_topic],
        group_id=settings.consumer_group,
        processed_model=ProcessedEvent,
        handler=handler(settings, SystemClock()),
    )


def main() -> None:
    run_worker("case-api notification events consumer", consume, settings=get_settings())


if __name__ == "__main__":
    main()
