"""REST endpoint for lists of cases: parse, call one service function, return."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from case_api.cases import listing
from case_api.cases.listing import CaseFilter, CaseList
from case_api.cases.models import Priority, Stage
from case_api.deps import CaseContext

router = APIRouter(prefix="/v1", tags=["cases"])


@router.get("/cases", response_model=CaseList)
async def list_cases(
    ctx: CaseContext,
    stage: Annotated[list[Stage], Query(description="Repeatable: any of these stages.")] = [],  # noqa: B006
    priority: Annotated[list[Priority], Query(description="Repeatable: any of these priorities.")] = [],  # noqa: B006
    team: Annotated[
        str | None, Query(max_length=40, description="Team roles may name only their own team (403 otherwise).")
    ] = None,
    eviction_date_from: Annotated[date | None, Query(alias="evictionDateFrom")] = None,
    eviction_date_to: Annotated[date | None, Query(alias="evictionDateTo")] = None,
    has_minors: Annotated[bool | None, Query(alias="hasMinors")] = None,
    overdue_tasks: Annotated[
        bool | None,
        Query(alias="overdueTasks", description="true: cases with an open task due before today (Europe/Amsterdam)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=listing.MAX_LIMIT)] = 25,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    include_total: Annotated[bool, Query(alias="includeTotal")] = False,
) -> CaseList:
    """Cases the caller may see, newest first, filtered and a page at a time (cursor pagination)."""
    filters = CaseFilter(
        stages=tuple(stage),
        priorities=tuple(priority),
        team=team,
        eviction_date_from=eviction_date_from,
        eviction_date_to=eviction_date_to,
        has_minors=has_minors,
        overdue_tasks=overdue_tasks,
    )
    return await listing.list_cases(ctx, filters=filters, limit=limit, cursor=cursor, include_total=include_total)
