"""REST endpoints for the case's household: parse, call one service function, return."""

from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from case_api.deps import StaffContext
from case_api.households import maintenance
from case_api.households.schemas import HouseholdIn, HouseholdRead, MemberIn, MemberPatch

router = APIRouter(prefix="/v1", tags=["households"])

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag of the household as read; a household changed since is refused with 412. "
        "Optional: without it the change applies to the household as it is (ADR 0013).",
    ),
]


# What a change may be refused with beyond 400 (problem details, service_kit.api_rules gives the content).
CHANGE_REFUSALS: dict[int | str, dict[str, str]] = {
    404: {"description": "No such case, or no such member of its household (`field: member_id`)"},
    409: {
        "description": "The case is closed, the last member would go, or the new address or BSN is another open "
        "case's household's (R2: `case_id` names that case only, ADR 0013)"
    },
    412: {"description": "`If-Match` names no current version of the household (`etag` is the current one)"},
}


def _tagged(response: Response, household: HouseholdRead) -> HouseholdRead:
    response.headers["ETag"] = maintenance.etag(household.version)
    return household


@router.get(
    "/cases/{case_id}/household",
    response_model=HouseholdRead,
    responses={
        200: {
            "description": "The household",
            "headers": {
                "ETag": {"description": 'Its version, e.g. "3": send it as If-Match', "schema": {"type": "string"}}
            },
        }
    },
)
async def read_household(case_id: str, ctx: StaffContext, response: Response) -> HouseholdRead:
    """The case's household with its members and their ids (BSN masked unless the role needs it, R15); ETag."""
    return _tagged(response, await maintenance.read_case_household(ctx, case_id=case_id))


@router.put("/cases/{case_id}/household", response_model=HouseholdRead, responses=CHANGE_REFUSALS)
async def update_household(
    case_id: str, body: HouseholdIn, ctx: StaffContext, response: Response, if_match: IfMatch = None
) -> HouseholdRead:
    """Replace what is known of the household: members (add, change, remove; birth dates, roles), contact
    details, mail address, language, preferred channel, BSN. A change of minors recomputes has_minors, the
    priority and the R10 tasks; publishes household.updated without personal data."""
    household = await maintenance.update_case_household(ctx, case_id=case_id, request=body, if_match=if_match)
    return _tagged(response, household)


@router.post(
    "/cases/{case_id}/household/members",
    response_model=HouseholdRead,
    status_code=status.HTTP_201_CREATED,
    responses=CHANGE_REFUSALS,
)
async def add_member(
    case_id: str, body: MemberIn, ctx: StaffContext, response: Response, if_match: IfMatch = None
) -> HouseholdRead:
    """Add a member (a child's birth date makes the household one with minors, R10); Location names it."""
    household, member_id = await maintenance.add_member(ctx, case_id=case_id, member=body, if_match=if_match)
    response.headers["Location"] = f"/v1/cases/{case_id}/household/members/{member_id}"
    return _tagged(response, household)


@router.patch("/cases/{case_id}/household/members/{member_id}", response_model=HouseholdRead, responses=CHANGE_REFUSALS)
async def change_member(
    case_id: str, member_id: str, body: MemberPatch, ctx: StaffContext, response: Response, if_match: IfMatch = None
) -> HouseholdRead:
    """Change the fields of one member the body names (birth date, role, name); the household as it is then."""
    household = await maintenance.change_member(
        ctx, case_id=case_id, member_id=member_id, change=body, if_match=if_match
    )
    return _tagged(response, household)


@router.delete(
    "/cases/{case_id}/household/members/{member_id}", response_model=HouseholdRead, responses=CHANGE_REFUSALS
)
async def remove_member(
    case_id: str, member_id: str, ctx: StaffContext, response: Response, if_match: IfMatch = None
) -> HouseholdRead:
    """Remove one member (never the last); the household as it is then."""
    household = await maintenance.remove_member(ctx, case_id=case_id, member_id=member_id, if_match=if_match)
    return _tagged(response, household)
