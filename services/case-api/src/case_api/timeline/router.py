"""REST endpoint for a case's timeline: parse, call one service function, return."""

from typing import Annotated

from fastapi import APIRouter, Query

from case_api.deps import CaseContext
from case_api.timeline import service
from case_api.timeline.schemas import TimelineRead

router = APIRouter(prefix="/v1", tags=["cases"])


@router.get("/cases/{case_id}/timeline", response_model=TimelineRead)
async def read_timeline(
    case_id: str,
    ctx: CaseContext,
    after: Annotated[int, Query(ge=0, description="Only events with a higher sequence.")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> TimelineRead:
    """The case's history in order of its events' sequence, a page at a time."""
    return await service.read_timeline(ctx, case_id=case_id, after=after, limit=limit)
