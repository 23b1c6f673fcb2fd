"""Recording contact attempts: the first one moves a signalled case to outreach (R4, R5). Caseworkers record
theirs over HTTP; the notifier's messages are recorded from its events (workers/notification_events.py)."""

import uuid
from datetime import datetime

from case_api.audit.models import Operation
from case_api.cases.models import Case
from case_api.cases.process import Action, allowed_actions
from case_api.cases.service import CASE_FILE, INFORMING_HOUSEHOLD, load_case, transition
from case_api.contacts.models import ContactAttempt, ContactChannel, PartOfDay
from case_api.contacts.repository import ContactRepository
from case_api.contacts.schemas import ContactAttemptIn
from case_api.context import Context
from case_api.events import emit
from service_kit.errors import Unprocessable

# The moments of spec/notifications.md, named in the note of an attempt the notifier made.
MOMENT_NAMES = {
    "M1": "signal",
    "M2": "no contact",
    "M3": "threat",
    "M4": "date set",
    "M5": "countdown",
    "M6": "averted",
    "M7": "evicted",
    "M8": "belongings",
    "M9": "housing decision",
}


def part_of_day(ctx: Context, instant: datetime) -> PartOfDay:
    hour = instant.astimezone(ctx.calendar.timezone).hour
    if hour < 12:
        return PartOfDay.morning
    return PartOfDay.afternoon if hour < 18 else PartOfDay.evening


async def record_contact(ctx: Context, *, case_id: str, request: ContactAttemptIn) -> ContactAttempt:
    case = await load_case(ctx, case_id, for_update=True)
    attempted_at = request.attempted_at or ctx.clock.now()
    if attempted_at > ctx.clock.now():
        raise Unprocessable("a contact attempt cannot lie in the future", field="attempted_at")
    transition(ctx, case, Action.record_contact)
    attempt = _add_attempt(
        ctx, case=case, channel=request.channel, reached=request.reached, attempted_at=attempted_at, note=request.note
    )
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    return attempt


async def record_notification_attempt(
    ctx: Context,
    *,
    case_id: str,
    notification_id: str,
    channel: ContactChannel,
    moment: str,
    attempted_at: datetime,
    status: str = "sent",
) -> ContactAttempt | None:
    """A notifier message as a contact attempt, not (yet) reached; None when its notification is recorded already.

    The case moves as a caseworker's attempt moves it when the process allows that; a closed case gets the
    attempt recorded all the same, since the message did go out. NotFound for an unknown case."""
    case = await load_case(ctx, case_id, for_update=True)
    if await ContactRepository(ctx.session).of_notification(notification_id) is not None:
        return None
    if Action.record_contact in allowed_actions(case.stage):  # not on a closed case: its stage stays
        transition(ctx, case, Action.record_contact)
    attempt = _add_attempt(
        ctx,
        case=case,
        channel=channel,
        reached=False,
        attempted_at=min(attempted_at, ctx.clock.now()),  # a notifier clock ahead of ours is not a future attempt
        note=f"notifier: {moment} ({MOMENT_NAMES.get(moment, 'message')}) {status} by {channel.value}",
        notification_id=notification_id,
    )
    ctx.log_processing(activity=INFORMING_HOUSEHOLD, case_id=case.id, operation=Operation.write)
    return attempt


def _add_attempt(
    ctx: Context,
    *,
    case: Case,
    channel: ContactChannel,
    reached: bool,
    attempted_at: datetime,
    note: str | None,
    notification_id: str | None = None,
) -> ContactAttempt:
    """Record the attempt on the locked `case`, keep its first contact current, and publish contact.attempted."""
    attempt = ContactAttempt(
        id=str(uuid.uuid4()),
        case_id=case.id,
        channel=channel,
        reached=reached,
        attempted_at=attempted_at,
        part_of_day=part_of_day(ctx, attempted_at),
        note=note,
        recorded_by=ctx.principal.subject,
        notification_id=notification_id,
        recorded_at=ctx.clock.now(),
    )
    ContactRepository(ctx.session).add(attempt)
    if case.first_contact_at is None or attempted_at < case.first_contact_at:
        case.first_contact_at = attempted_at
    emit(
        ctx,
        case=case,
        event="contact.attempted",
        data={
            "channel": attempt.channel.value,
            "reached": attempt.reached,
            "attempted_on": ctx.calendar.local_date(attempted_at).isoformat(),
            "part_of_day": attempt.part_of_day.value,
        },
    )
    return attempt
