"""Children first: the child-rights assessment before an eviction date (R10), and the report of every family
with minors that faces or went through an eviction without a rehousing outcome (R11)."""

import uuid

from case_api.audit.models import Operation
from case_api.cases.process import Action
from case_api.cases.service import CASE_FILE, load_case, transition
from case_api.children.models import ChildRightsAssessment
from case_api.children.repository import ChildAssessmentRepository
from case_api.children.schemas import (
    ChildAssessmentCreate,
    ChildAssessmentRead,
    FamiliesWithoutRehousingReport,
    FamilyWithoutRehousing,
)
from case_api.context import Context
from case_api.events import emit
from case_api.tasks.service import recompute_tasks
from service_kit.errors import Unprocessable


async def record_child_assessment(
    ctx: Context, *, case_id: str, request: ChildAssessmentCreate
) -> ChildRightsAssessment:
    """Only for a household with minors (409 otherwise, R10); publishes child-assessment.recorded."""
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.record_child_assessment)
    if request.children_heard and not (request.how_heard or "").strip():
        raise Unprocessable("say how the children were heard when children_heard is true", field="how_heard")
    if request.completed and not (request.sleeping_place_after_eviction or "").strip():
        raise Unprocessable(
            "a completed assessment says where the children will sleep after the date (R10)",
            field="sleeping_place_after_eviction",
        )
    assessment = ChildRightsAssessment(
        id=str(uuid.uuid4()),
        case_id=case.id,
        children_situation=request.children_situation,
        children_heard=request.children_heard,
        how_heard=request.how_heard,
        sleeping_place_after_eviction=request.sleeping_place_after_eviction,
        completed=request.completed,
        recorded_by=ctx.principal.subject,
        recorded_at=ctx.clock.now(),
    )
    ChildAssessmentRepository(ctx.session).add(assessment)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="child-assessment.recorded",
        data={
            "completed": assessment.completed,
            "children_heard": assessment.children_heard,
            "sleeping_place_known": bool((assessment.sleeping_place_after_eviction or "").strip()),
        },
    )
    await recompute_tasks(ctx, case=case)  # the child-rights task it answers completes now, not at the worker's run
    return assessment


async def list_child_assessments(ctx: Context, *, case_id: str) -> list[ChildAssessmentRead]:
    case = await load_case(ctx, case_id)
    assessments = await ChildAssessmentRepository(ctx.session).of_case(case.id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return [ChildAssessmentRead.model_validate(assessment) for assessment in assessments]


async def families_without_rehousing(ctx: Context, *, limit: int, offset: int) -> FamiliesWithoutRehousingReport:
    """R11's report, limited to the caller's team unless the role sees every team."""
    team = None if ctx.principal.sees_all_teams else ctx.principal.team
    total, cases = await ChildAssessmentRepository(ctx.session).families_without_rehousing(
        team=team, limit=limit, offset=offset
    )
    for case in cases:
        ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return FamiliesWithoutRehousingReport(
        total=total,
        limit=limit,
        offset=offset,
        items=[FamilyWithoutRehousing.model_validate(case) for case in cases],
    )
