"""Requests to the case's partners, and the case's contact person (contract.md: what each partner kind may
receive). Each is an event that the partner gateway turns into webhooks within what each kind may see:

- postponement.requested: the municipality asks the corporation and/or the bailiff to postpone the eviction
  date, with a grounds category (the bailiff sees the category, the corporation does not). R10 at T-2 asks the
  corporation to postpone: recording a request addressed to it for the case's eviction date completes the team
  lead's request_postponement task in the same transaction (the deadline rules see the request).
- second-chance.requested: the municipality asks the corporation to offer a second-chance agreement.
- contact-person.assigned: who at the municipality the bailiff reaches for this case (the assigned caseworker or
  the team's contact). The event says only which kind; the gateway reads the name and work contact details from
  GET /v1/cases/{case_id}/contact-person when it sends the bailiff's webhook, so no name travels through Kafka.

A request's note is for the case file only: it is in no event and never sent.
"""

import uuid

from case_api.audit.models import Operation
from case_api.cases.process import Action
from case_api.cases.service import CASE_FILE, load_case, transition
from case_api.context import Context
from case_api.events import emit
from case_api.partner_requests.models import (
    ContactPerson,
    PostponementRequest,
    Recipient,
    SecondChanceRequest,
)
from case_api.partner_requests.repository import PartnerRequestRepository
from case_api.partner_requests.schemas import (
    ContactPersonIn,
    ContactPersonRead,
    PartnerRequests,
    PostponementRequestCreate,
    PostponementRequestRead,
    SecondChanceRequestCreate,
    SecondChanceRequestRead,
)
from case_api.tasks.service import recompute_tasks
from service_kit.errors import NotFound, Unprocessable


def postponement_read(request: PostponementRequest) -> PostponementRequestRead:
    return PostponementRequestRead(
        id=request.id,
        case_id=request.case_id,
        recipients=request.recipients,
        grounds_category=request.grounds_category,
        eviction_date=request.eviction_date,
        note=request.note,
        requested_by=request.requested_by,
        requested_at=request.requested_at,
    )


async def request_postponement(
    ctx: Context, *, case_id: str, request: PostponementRequestCreate
) -> PostponementRequestRead:
    """Ask to postpone the case's eviction date (409 unless a date is scheduled); publishes postponement.requested
    and completes R10's request_postponement task when the corporation is asked."""
    if len(set(request.recipients)) != len(request.recipients):
        raise Unprocessable("recipients names a partner kind twice", field="recipients")
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.request_postponement)
    assert case.eviction_date is not None  # a scheduled eviction has its date
    record = PostponementRequest(
        id=str(uuid.uuid4()),
        case_id=case.id,
        to_housing_corporation=Recipient.housing_corporation in request.recipients,
        to_bailiff=Recipient.bailiff in request.recipients,
        grounds_category=request.grounds_category,
        eviction_date=case.eviction_date,
        note=request.note,
        requested_by=ctx.principal.subject,
        requested_at=ctx.clock.now(),
    )
    PartnerRequestRepository(ctx.session).add(record)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="postponement.requested",
        data={
            "request_id": record.id,
            "recipients": [recipient.value for recipient in record.recipients],
            "grounds_category": record.grounds_category.value,
            "eviction_date": record.eviction_date.isoformat(),
            "requested_on": ctx.today().isoformat(),
        },
    )
    await recompute_tasks(ctx, case=case)  # R10: the request is what the team lead's task asks for
    return postponement_read(record)


async def request_second_chance(
    ctx: Context, *, case_id: str, request: SecondChanceRequestCreate
) -> SecondChanceRequestRead:
    """Ask the corporation to offer a second-chance agreement (before an eviction took place); publishes
    second-chance.requested."""
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.request_second_chance)
    record = SecondChanceRequest(
        id=str(uuid.uuid4()),
        case_id=case.id,
        note=request.note,
        requested_by=ctx.principal.subject,
        requested_at=ctx.clock.now(),
    )
    PartnerRequestRepository(ctx.session).add(record)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="second-chance.requested",
        data={"request_id": record.id, "requested_on": ctx.today().isoformat()},
    )
    return SecondChanceRequestRead.model_validate(record)


async def list_requests(ctx: Context, *, case_id: str) -> PartnerRequests:
    case = await load_case(ctx, case_id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    repository = PartnerRequestRepository(ctx.session)
    return PartnerRequests(
        postponement_requests=[postponement_read(r) for r in await repository.postponement_requests(case.id)],
        second_chance_requests=[
            SecondChanceRequestRead.model_validate(r) for r in await repository.second_chance_requests(case.id)
        ],
    )


async def assign_contact_person(ctx: Context, *, case_id: str, request: ContactPersonIn) -> ContactPersonRead:
    """Record (or replace) the case's contact person; publishes contact-person.assigned with its kind only."""
    if request.work_email is None and request.work_phone is None:
        raise Unprocessable("a contact person needs a work e-mail address or a work phone number", field="work_email")
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.assign_contact_person)
    repository = PartnerRequestRepository(ctx.session)
    person = await repository.contact_person(case.id)
    if person is None:
        person = ContactPerson(case_id=case.id)
        repository.add(person)
    person.kind = request.kind
    person.name = request.name
    person.work_email = request.work_email
    person.work_phone = request.work_phone
    person.assigned_by = ctx.principal.subject
    person.assigned_at = ctx.clock.now()
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="contact-person.assigned",
        data={"contact_kind": request.kind.value, "assigned_on": ctx.today().isoformat()},
    )
    return ContactPersonRead.model_validate(person)


async def read_contact_person(ctx: Context, *, case_id: str) -> ContactPersonRead:
    """The case's contact person (staff, and the partner gateway when it sends the bailiff's webhook); 404 when
    none was assigned. The read is in the processing log (R17)."""
    case = await load_case(ctx, case_id)
    person = await PartnerRequestRepository(ctx.session).contact_person(case.id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    if person is None:
        raise NotFound("no contact person was assigned to this case", field="case_id")
    return ContactPersonRead.model_validate(person)
