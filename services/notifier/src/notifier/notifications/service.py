"""Which messages a case event asks for, and handing requested messages to their channel."""

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from eviction_schemas.envelope import CloudEvent
from notifier.channels.base import Channel, OutgoingMessage
from notifier.notifications.models import Moment, Notification, Status
from notifier.notifications.repository import NotificationRepository
from notifier.templating.catalog import RenderedMessage, reference_of, render
from notifier.templating.context import ContactLookup, Household, Sender
from service_kit.clock import Clock

log = logging.getLogger(__name__)

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


def render_notification(notification: Notification, *, household: Household, sender: Sender) -> RenderedMessage:
    return render(
        f"{notification.moment}.{notification.channel}",
        language=notification.language,
        household=household,
        sender=sender,
        reference=reference_of(notification.case_id),
    )


def recipient_of(channel: str, household: Household) -> str | None:
    return {"email": household.email, "sms": household.mobile}.get(channel)


async def dispatch_requested(
    session: AsyncSession,
    *,
    channels: dict[str, Channel],
    clock: Clock,
    contacts: ContactLookup,
    sender: Sender | None = None,
    limit: int = 100,
) -> int:
    """Hand requested notifications to their channel; returns how many were handed over.

    The household (name, addresses) comes from `contacts` at send time, never from the event. When it cannot tell
    who the household is, the notification stays requested and nothing is sent.
    """
    sender = sender or Sender()
    handed = 0
    for notification in await NotificationRepository(session).claim_requested(limit):
        household = await contacts.household(notification.case_id)
        if household is None:
            log.warning(
                "no contact details for case %s: notification %s stays requested", notification.case_id, notification.id
            )
            continue
        rendered = render_notification(notification, household=household, sender=sender)
        notification.attempts += 1
        notification.template_version = rendered.version
        result = await channels[notification.channel].send(
            OutgoingMessage(
                notification_id=notification.id,
                case_id=notification.case_id,
                moment=notification.moment,
                channel=notification.channel,
                language=notification.language,
                subject=rendered.subject,
                body=rendered.body,
                recipient=recipient_of(notification.channel, household),
                template_version=rendered.version,
                reference=reference_of(notification.case_id),
                postal_address=(household.full_name, *household.address_lines),
                written_on=clock.now().date(),
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
