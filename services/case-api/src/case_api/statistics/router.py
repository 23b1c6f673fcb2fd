"""REST endpoints for statistics: parse, call one service function, return. Aggregates only (R12, R16)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from case_api.context import Context
from case_api.db import SessionDep
from case_api.deps import Traceparent
from case_api.statistics import service
from case_api.statistics.schemas import ChildrenStatistics, FirstContactStatistics, OutcomesStatistics, Period
from service_kit.auth import Principal, Role, require_roles
from service_kit.tracing import current_traceparent

router = APIRouter(prefix="/v1/statistics", tags=["statistics"])

# Who reads aggregates: the policy analyst above all; team leads and admins too. Never a partner.
STATISTICS_ROLES = (Role.policy_analyst, Role.team_lead, Role.admin)


async def statistics_context(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_roles(*STATISTICS_ROLES))],
    traceparent: Traceparent,
) -> Context:
    return Context(
        session=session,
        settings=request.app.state.settings,
        clock=request.app.state.clock,
        principal=principal,
        traceparent=traceparent or current_traceparent(),
    )


StatisticsContext = Annotated[Context, Depends(statistics_context)]
From = Annotated[date | None, Query(alias="from", description="First day; default: 12 periods back.")]
To = Annotated[date | None, Query(alias="to", description="Last day; default: today (Europe/Amsterdam).")]


@router.get("/children", response_model=ChildrenStatistics)
async def children(
    ctx: StatisticsContext, period: Period = Period.month, first: From = None, last: To = None
) -> ChildrenStatistics:
    """R12: children involved in threatened, averted and executed evictions, per period."""
    return await service.children(ctx, period=period, first=first, last=last)


@router.get("/outcomes", response_model=OutcomesStatistics)
async def outcomes(
    ctx: StatisticsContext, period: Period = Period.month, first: From = None, last: To = None
) -> OutcomesStatistics:
    """Households whose eviction was threatened, averted and executed, per period."""
    return await service.outcomes(ctx, period=period, first=first, last=last)


@router.get("/first-contact", response_model=FirstContactStatistics)
async def first_contact(
    ctx: StatisticsContext, period: Period = Period.month, first: From = None, last: To = None
) -> FirstContactStatistics:
    """Days from the first signal to the first contact attempt: count, median and 90th percentile per period."""
    return await service.first_contact(ctx, period=period, first=first, last=last)
