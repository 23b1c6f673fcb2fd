"""The rules of opening and reading a case; writes outbox rows, never commits."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from case_api.cases.models import Case, Priority, Stage
from case_api.cases.repository import CaseRepository
from case_api.cases.schemas import CaseCreate
from case_api.config import Settings
from case_api.events import emit
from service_kit.clock import Clock
from service_kit.errors import NotFound


def initial_priority(*, has_minors: bool) -> Priority:
    # R10: households with minors get the highest priority.
    return Priority.highest if has_minors else Priority.normal


async def open_case(
    session: AsyncSession,
    *,
    settings: Settings,
    clock: Clock,
    request: CaseCreate,
    traceparent: str | None = None,
) -> Case:
    case = Case(
        id=str(uuid.uuid4()),
        household_id=str(uuid.uuid4()),
        team=request.team,
        stage=Stage.signalled,
        priority=initial_priority(has_minors=request.has_minors),
        has_minors=request.has_minors,
        opened_by=request.opened_by,
        opened_at=clock.now(),
        last_event_sequence=0,
    )
    CaseRepository(session).add(case)
    await emit(
        session,
        settings=settings,
        clock=clock,
        case=case,
        event="case.opened",
        data={
            "case_id": case.id,
            "household_id": case.household_id,
            "opened_by": case.opened_by.value,
            "priority": case.priority.value,
            "has_minors": case.has_minors,
            "team": case.team,
        },
        traceparent=traceparent,
    )
    return case


async def get_case(session: AsyncSession, *, case_id: str) -> Case:
    case = await CaseRepository(session).get(case_id)
    if case is None:
        raise NotFound(f"no case with id {case_id}", field="case_id")
    return case
