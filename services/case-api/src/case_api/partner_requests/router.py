"""REST endpoints for requests to the case's partners and its contact person: parse, call one service function,
return."""

from fastapi import APIRouter, status

from case_api.deps import CaseContext, PartnerCaseContext
from case_api.partner_requests import service
from case_api.partner_requests.schemas import (
    ContactPersonIn,
    ContactPersonRead,
    PartnerRequests,
    PostponementRequestCreate,
    PostponementRequestRead,
    SecondChanceRequestCreate,
    SecondChanceRequestRead,
)
from service_kit.errors import Problem

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["partner requests"])


@router.post("/postponement-requests", status_code=status.HTTP_201_CREATED, response_model=PostponementRequestRead)
async def request_postponement(
    case_id: str, body: PostponementRequestCreate, ctx: CaseContext
) -> PostponementRequestRead:
    """Ask the corporation and/or the bailiff to postpone the eviction date; publishes postponement.requested."""
    return await service.request_postponement(ctx, case_id=case_id, request=body)


@router.post("/second-chance-requests", status_code=status.HTTP_201_CREATED, response_model=SecondChanceRequestRead)
async def request_second_chance(
    case_id: str, body: SecondChanceRequestCreate, ctx: CaseContext
) -> SecondChanceRequestRead:
    """Ask the corporation to offer a second-chance agreement; publishes second-chance.requested."""
    return await service.request_second_chance(ctx, case_id=case_id, request=body)


@router.get("/partner-requests", response_model=PartnerRequests)
async def list_requests(case_id: str, ctx: CaseContext) -> PartnerRequests:
    """The case's requests to postpone and to offer a second-chance agreement, oldest first."""
    return await service.list_requests(ctx, case_id=case_id)


@router.put("/contact-person", response_model=ContactPersonRead)
async def assign_contact_person(case_id: str, body: ContactPersonIn, ctx: CaseContext) -> ContactPersonRead:
    """Record the case's contact person for the bailiff (work contact details); publishes contact-person.assigned."""
    return await service.assign_contact_person(ctx, case_id=case_id, request=body)


@router.get(
    "/contact-person",
    response_model=ContactPersonRead,
    responses={404: {"model": Problem, "description": "No such case, or no contact person assigned to it."}},
)
async def read_contact_person(case_id: str, ctx: PartnerCaseContext) -> ContactPersonRead:
    """The case's contact person; the partner gateway reads it when it sends the bailiff's webhook (logged, R17)."""
    return await service.read_contact_person(ctx, case_id=case_id)
