"""Which messages a case event asks for, and handing requested messages to their channel."""

import uuid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.ext.asyncio import AsyncSession

from eviction_schemas.envelope import CloudEvent
from notifier.channels.base import Channel, OutgoingMessage
from notifier.notifications.models import Moment, Notification, Status
from notifier.notifications.repository import NotificationRepository
from service_kit.clock import Clock

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
    undefined=StrictUndefined,  # a missing placeholder is an error, never an empty gap in a letter
    autoescape=False,  # noqa: S701 - plain-text templates; HTML templates get their own environment
    keep_trailing_newline=True,
)

CASE_OPENED = "nl.eviction-prevention.case.opened"
# Which moment a case event starts; the full table of spec/notifications.md grows here.
MOMENT_OF_EVENT = {CASE_OPENED: Moment.signal}
# M1 ("we noticed payment trouble") is for a case opened from a signal, received as one (signal) or as a
# partner's message (partner_message: arrears reported through the gateway; case.opened cannot tell that from a
# legal-track message, and a needless M1 costs less than a missed one). Staff opened it by hand: no M1.
M1_OPENED_BY = frozenset({"signal", "partner_message"})


def moment_of(event: CloudEvent) -> Moment | None:
    """The moment `event` starts, if any."""
    moment = MOMENT_OF_EVENT.get(event.type)
    if moment is Moment.signal and event.data.get("opened_by") not in M1_OPENED_BY:
        return None
    return moment


async def request_for_event(session: AsyncSession, *, event: CloudEvent, clock: Clock) -> list[Notification]:
    moment = moment_of(event)
    if moment is None:
        return []
    repository = NotificationRepository(session)
    requested = []
    for channel in ("email",):
        if await repository.exists(case_id=event.subject, moment=moment, occasion="", channel=channel):
            continue
        notification = Notification(
            id=str(uuid.uuid4()),
            case_id=event.subject,
            moment=moment,
            occasion="",
            channel=channel,
            language="nl",
            status=Status.requested,
            attempts=0,
            caused_by_event=str(event.id),
            created_at=clock.now(),
        )
        repository.add(notification)
        requested.append(notification)
    return requested


def render(notification: Notification) -> tuple[str, str]:
    template = TEMPLATES.get_template(f"{notification.moment}/{notification.channel}.{notification.language}.j2")
    text = template.render(reference=notification.case_id[:8].upper())
    subject, _, body = text.partition("\n")
    return subject.strip(), body


async def dispatch_requested(
    session: AsyncSession, *, channels: dict[str, Channel], clock: Clock, limit: int = 100
) -> int:
    """Hand requested notifications to their channel; returns how many were handed over."""
    handed = 0
    for notification in await NotificationRepository(session).claim_requested(limit):
        subject, body = render(notification)
        notification.attempts += 1
        result = await channels[notification.channel].send(
            OutgoingMessage(
                notification_id=notification.id,
                case_id=notification.case_id,
                moment=notification.moment,
                channel=notification.channel,
                language=notification.language,
                subject=subject,
                body=body,
            )
        )
        if result.accepted:
            notification.status = Status.sent
            notification.sent_at = clock.now()
            notification.provider_reference = result.provider_reference
            handed += 1
        else:
            notification.status = Status.permanent_failure if result.permanent else Status.temporary_failure
    return handed
