"""REST endpoints for the case's household: parse, call one service function, return."""

from fastapi import APIRouter

from case_api.deps import StaffContext
from case_api.households import maintenance
from case_api.households.schemas import HouseholdIn, HouseholdRead

router = APIRouter(prefix="/v1", tags=["households"])


@router.get("/cases/{case_id}/household", response_model=HouseholdRead)
async def read_household(case_id: str, ctx: StaffContext) -> HouseholdRead:
    """The case's household with its members (BSN masked unless the role needs it, R15)."""
    return await maintenance.read_case_household(ctx, case_id=case_id)


@router.put("/cases/{case_id}/household", response_model=HouseholdRead)
async def update_household(case_id: str, body: HouseholdIn, ctx: StaffContext) -> HouseholdRead:
    """Replace what is known of the household: members (add, change, remove; birth dates, roles), contact
    details, mail address, language, preferred channel, BSN. A change of minors recomputes has_minors, the
    priority and the R10 tasks; publishes household.updated without personal data."""
    return await maintenance.update_case_household(ctx, case_id=case_id, request=body)
