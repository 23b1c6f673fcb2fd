"""REST endpoints for partner feedback (R3): parse, call one service function, return."""

from typing import Annotated

from fastapi import APIRouter, Query

from case_api.deps import CaseContext, GatewayContext
from case_api.partner_feedback import service
from case_api.partner_feedback.schemas import PartnerFeedbackPage, PickupDecision, PickupRead

router = APIRouter(prefix="/v1", tags=["partner feedback"])


@router.put("/cases/{case_id}/signals/{signal_id}/pickup", response_model=PickupRead, tags=["signals"])
async def record_pickup(case_id: str, signal_id: str, body: PickupDecision, ctx: CaseContext) -> PickupRead:
    """Record whether a signal was picked up and, if not, why (the reason never reaches the partner, R3)."""
    return await service.record_pickup(ctx, case_id=case_id, signal_id=signal_id, decision=body)


@router.get("/partner-feedback/signals", response_model=PartnerFeedbackPage)
async def partner_feedback(
    ctx: GatewayContext,
    partner_id: Annotated[str, Query(alias="partnerId", min_length=1, max_length=64)],
    after: Annotated[str, Query(max_length=36, description="Only signals with a higher id.")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PartnerFeedbackPage:
    """For the partner gateway: per signal of the partner, whether it was picked up; never why not (R3)."""
    return await service.partner_feedback(ctx, partner_id=partner_id, after=after, limit=limit)
