"""REST endpoints for support trajectories: parse, call one service function, return."""

from fastapi import APIRouter, status

from case_api.deps import CaseContext, PartnerCaseContext
from case_api.support import service
from case_api.support.schemas import SupportEnd, SupportList, SupportRead, SupportStart

router = APIRouter(prefix="/v1/cases/{case_id}/support", tags=["support"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SupportRead)
async def start_support(case_id: str, body: SupportStart, ctx: PartnerCaseContext) -> SupportRead:
    """Record help the household accepted; publishes support.started."""
    return await service.start_support(ctx, case_id=case_id, request=body)


@router.post("/{support_id}/end", response_model=SupportRead)
async def end_support(case_id: str, support_id: str, body: SupportEnd, ctx: CaseContext) -> SupportRead:
    """End a support trajectory with a reason; publishes support.ended."""
    return await service.end_support(ctx, case_id=case_id, support_id=support_id, request=body)


@router.get("", response_model=SupportList)
async def list_support(case_id: str, ctx: CaseContext) -> SupportList:
    """The case's support trajectories, active and ended."""
    return SupportList(items=await service.list_support(ctx, case_id=case_id))
