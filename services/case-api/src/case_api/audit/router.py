"""REST endpoint for the processing log: parse, call one service function, return."""

from typing import Annotated

from fastapi import APIRouter, Query

from case_api.audit import service
from case_api.audit.schemas import ProcessingLogPage
from case_api.deps import AdminContext

router = APIRouter(prefix="/v1", tags=["processing log"])


@router.get("/processing-log", response_model=ProcessingLogPage)
async def read_processing_log(
    ctx: AdminContext,
    case_id: Annotated[str | None, Query(alias="caseId", max_length=36)] = None,
    after: Annotated[int, Query(ge=0, description="Only entries with a higher id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ProcessingLogPage:
    """Who read or changed which case's personal data, when, under which trace id (R17; admins only)."""
    return await service.read_processing_log(ctx, case_id=case_id, after=after, limit=limit)
