"""REST endpoints for child-rights assessments (R10) and the R11 report: parse, call one service function,
return."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from case_api.children import service
from case_api.children.schemas import (
    ChildAssessmentCreate,
    ChildAssessmentList,
    ChildAssessmentRead,
    FamiliesWithoutRehousingReport,
)
from case_api.deps import CaseContext
from service_kit.auth import Role, require_roles
from service_kit.paging import MAX_OFFSET

router = APIRouter(prefix="/v1", tags=["children"])


@router.post(
    "/cases/{case_id}/child-assessments", status_code=status.HTTP_201_CREATED, response_model=ChildAssessmentRead
)
async def record_child_assessment(case_id: str, body: ChildAssessmentCreate, ctx: CaseContext) -> ChildAssessmentRead:
    """Record a child-rights assessment (households with minors only, R10)."""
    return ChildAssessmentRead.model_validate(await service.record_child_assessment(ctx, case_id=case_id, request=body))


@router.get("/cases/{case_id}/child-assessments", response_model=ChildAssessmentList)
async def list_child_assessments(case_id: str, ctx: CaseContext) -> ChildAssessmentList:
    """The case's child-rights assessments, oldest first."""
    return ChildAssessmentList(items=await service.list_child_assessments(ctx, case_id=case_id))


@router.get(
    "/reports/evicted-families-without-rehousing",
    response_model=FamiliesWithoutRehousingReport,
    dependencies=[Depends(require_roles(Role.team_lead, Role.admin))],
    tags=["reports"],
)
async def families_without_rehousing(
    ctx: CaseContext,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> FamiliesWithoutRehousingReport:
    """R11: every family with minors whose eviction is scheduled or executed without a rehousing outcome."""
    return await service.families_without_rehousing(ctx, limit=limit, offset=offset)
