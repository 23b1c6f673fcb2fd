"""REST endpoints for temporary housing (R13): parse, call one service function, return."""

from fastapi import APIRouter, status

from case_api.deps import CaseContext
from case_api.housing import service
from case_api.housing.schemas import (
    Eligibility,
    TemporaryHousingDecisionCreate,
    TemporaryHousingDecisionList,
    TemporaryHousingDecisionRead,
)

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["temporary housing"])


@router.get("/temporary-housing/eligibility", response_model=Eligibility)
async def read_eligibility(case_id: str, ctx: CaseContext) -> Eligibility:
    """Whether the household is eligible for temporary housing, and which condition is missing (R13)."""
    return await service.read_eligibility(ctx, case_id=case_id)


@router.post(
    "/temporary-housing-decisions", status_code=status.HTTP_201_CREATED, response_model=TemporaryHousingDecisionRead
)
async def decide_temporary_housing(
    case_id: str, body: TemporaryHousingDecisionCreate, ctx: CaseContext
) -> TemporaryHousingDecisionRead:
    """Grant or refuse temporary housing and record the rehousing outcome; publishes temporary-housing.decided."""
    return TemporaryHousingDecisionRead.model_validate(
        await service.decide_temporary_housing(ctx, case_id=case_id, request=body)
    )


@router.get("/temporary-housing-decisions", response_model=TemporaryHousingDecisionList)
async def list_decisions(case_id: str, ctx: CaseContext) -> TemporaryHousingDecisionList:
    """The case's temporary-housing decisions, oldest first."""
    return TemporaryHousingDecisionList(items=await service.list_decisions(ctx, case_id=case_id))
