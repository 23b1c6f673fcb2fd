"""Support trajectories: help the household accepted starts and ends; the conditions of temporary housing
(R13) are read from the ones still active."""

import uuid

from case_api.audit.models import Operation
from case_api.cases.process import Action
from case_api.cases.service import CASE_FILE, load_case, transition
from case_api.context import Context
from case_api.events import emit
from case_api.support.models import SupportKind, SupportTrajectory
from case_api.support.repository import SupportRepository
from case_api.support.schemas import SupportEnd, SupportRead, SupportStart
from service_kit.errors import Conflict, NotFound, Unprocessable


def support_read(trajectory: SupportTrajectory) -> SupportRead:
    return SupportRead(
        id=trajectory.id,
        case_id=trajectory.case_id,
        kind=trajectory.kind,
        started_on=trajectory.started_on,
        ended_on=trajectory.ended_on,
        end_reason=trajectory.end_reason,
        active=trajectory.ended_on is None,
        recorded_by=trajectory.recorded_by,
        recorded_at=trajectory.recorded_at,
    )


async def start_support(ctx: Context, *, case_id: str, request: SupportStart) -> SupportRead:
    """Record help the household accepted; a signalled or outreach case moves to in_support."""
    case = await load_case(ctx, case_id, for_update=True)
    started_on = request.started_on or ctx.today()
    if started_on > ctx.today():
        raise Unprocessable(
            "support is recorded once it has started; started_on lies in the future", field="started_on"
        )
    repository = SupportRepository(ctx.session)
    if request.kind in await repository.active_kinds(case.id):
        raise Conflict(
            f"a {request.kind.value} support is already active for this case: end it before starting another",
            field="kind",
        )
    transition(ctx, case, Action.start_support)
    trajectory = SupportTrajectory(
        id=str(uuid.uuid4()),
        case_id=case.id,
        kind=request.kind,
        started_on=started_on,
        recorded_by=ctx.principal.subject,
        recorded_at=ctx.clock.now(),
    )
    repository.add(trajectory)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="support.started",
        data={"support_id": trajectory.id, "kind": trajectory.kind.value, "started_on": started_on.isoformat()},
    )
    return support_read(trajectory)


async def end_support(ctx: Context, *, case_id: str, support_id: str, request: SupportEnd) -> SupportRead:
    case = await load_case(ctx, case_id, for_update=True)
    trajectory = await SupportRepository(ctx.session).get(case_id=case.id, support_id=support_id)
    if trajectory is None:
        raise NotFound(f"no support {support_id} in this case", field="support_id")
    if trajectory.ended_on is not None:
        raise Conflict(f"this support ended on {trajectory.ended_on.isoformat()}", field="support_id")
    ended_on = request.ended_on or ctx.today()
    if ended_on > ctx.today():
        raise Unprocessable("an end is recorded once it happened; ended_on lies in the future", field="ended_on")
    if ended_on < trajectory.started_on:
        raise Unprocessable(
            f"ended_on must not be before the start ({trajectory.started_on.isoformat()})", field="ended_on"
        )
    transition(ctx, case, Action.end_support)
    trajectory.ended_on = ended_on
    trajectory.end_reason = request.end_reason
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="support.ended",
        data={"support_id": trajectory.id, "kind": trajectory.kind.value, "ended_on": ended_on.isoformat()},
    )
    return support_read(trajectory)


async def list_support(ctx: Context, *, case_id: str) -> list[SupportRead]:
    case = await load_case(ctx, case_id)
    trajectories = await SupportRepository(ctx.session).of_case(case.id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return [support_read(trajectory) for trajectory in trajectories]


async def active_support_kinds(ctx: Context, *, case_id: str) -> frozenset[SupportKind]:
    """What help is running now (R13 reads it); the caller has loaded the case it may see."""
    return await SupportRepository(ctx.session).active_kinds(case_id)
