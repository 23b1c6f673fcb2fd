"""Recording contact attempts: the first one moves a signalled case to outreach (R4, R5)."""

import uuid
from datetime import datetime

from case_api.audit.models import Operation
from case_api.cases.process import Action
from case_api.cases.service import CASE_FILE, load_case, transition
from case_api.contacts.models import ContactAttempt, PartOfDay
from case_api.contacts.schemas import ContactAttemptIn
from case_api.context import Context
from case_api.events import emit
from service_kit.errors import Unprocessable


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
    attempt = ContactAttempt(
        id=str(uuid.uuid4()),
        case_id=case.id,
        channel=request.channel,
        reached=request.reached,
        attempted_at=attempted_at,
        part_of_day=part_of_day(ctx, attempted_at),
        note=request.note,
        recorded_by=ctx.principal.subject,
        recorded_at=ctx.clock.now(),
    )
    ctx.session.add(attempt)
    if case.first_contact_at is None or attempted_at < case.first_contact_at:
        case.first_contact_at = attempted_at
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
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
