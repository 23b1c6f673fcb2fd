"""Opening, moving, reading and closing cases; writes outbox rows, never commits."""

import uuid
from datetime import date

from case_api.audit.models import Operation
from case_api.cases.models import Case, OpenedBy, OutcomeCode, Priority, Stage
from case_api.cases.process import Action, Transition, allowed_actions, apply, check
from case_api.cases.repository import CaseRepository
from case_api.cases.schemas import CaseDetail, CaseSummary
from case_api.context import Context
from case_api.events import emit
from case_api.households.models import normalise_address_key
from case_api.households.schemas import HouseholdIn
from case_api.households.service import build_household, has_minors, read_household
from case_api.signals.repository import SignalRepository
from case_api.signals.schemas import SignalRead
from case_api.tasks.models import TaskStatus
from case_api.tasks.repository import TaskRepository
from service_kit.errors import Conflict, Forbidden, NotFound, Unprocessable

CASE_FILE = "case-file"  # the processing activity of reading and keeping a case (R17)
# The processing activity of the notifier's work on a case: reading how to reach the household, creating a
# caseworker task, recording its messages as contact attempts (R17).
INFORMING_HOUSEHOLD = "informing-the-household"

# Which outcome codes fit which stage at closing: an eviction's outcome is what happened to it.
EVICTION_OUTCOME_OF_STAGE = {
    Stage.averted: {OutcomeCode.eviction_averted},
    Stage.evicted: {OutcomeCode.evicted},
    Stage.aftercare: {OutcomeCode.evicted},
}
EVICTION_OUTCOMES = {OutcomeCode.eviction_averted, OutcomeCode.evicted}


def compute_priority(*, has_minors: bool, crisis: bool, consecutive: bool, multiple: bool) -> Priority:
    """R10 first: a household with minors gets the highest priority; R2 and R5 flags raise it to high."""
    if has_minors:
        return Priority.highest
    if crisis or consecutive or multiple:
        return Priority.high
    return Priority.normal


async def load_case(ctx: Context, case_id: str, *, for_update: bool = False) -> Case:
    """The case, if the caller may see it; a case of another team is answered as not found (R16)."""
    case = await CaseRepository(ctx.session).get(case_id, for_update=for_update)
    if case is None or not ctx.principal.can_access_team(case.team):
        raise NotFound(f"no case {case_id} that you may see", field="case_id")
    return case


def transition(ctx: Context, case: Case, action: Action) -> Transition:
    """Move the case by `action` (409 naming the allowed actions when the process does not allow it)."""
    step = check(case, action)
    apply(case, action)
    case.updated_at = ctx.clock.now()
    return step


async def open_case(
    ctx: Context,
    *,
    team: str,
    household: HouseholdIn,
    opened_by: OpenedBy,
    first_signal_on: date | None = None,
    crisis: bool = False,
    consecutive: bool = False,
    reported_minors: int | None = None,
) -> Case:
    if not ctx.principal.can_access_team(team):
        raise Forbidden(f"you may not open a case for team {team}", field="team")
    record = build_household(ctx, household, by_staff=opened_by is OpenedBy.staff, reported_minors=reported_minors)
    await ctx.session.flush()  # the household row exists before the case that refers to it
    minors = has_minors(record, ctx.today())
    case = Case(
        id=str(uuid.uuid4()),
        household_id=record.id,
        team=team,
        stage=Stage.signalled,
        priority=compute_priority(has_minors=minors, crisis=crisis, consecutive=consecutive, multiple=False),
        has_minors=minors,
        consecutive=consecutive,
        multiple=False,
        crisis=crisis,
        opened_by=opened_by,
        opened_at=ctx.clock.now(),
        first_signal_on=first_signal_on,
        updated_at=ctx.clock.now(),
        last_event_sequence=0,
    )
    CaseRepository(ctx.session).add(case)
    await ctx.session.flush()  # later steps of this transaction find the case by query
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
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
    )
    return case


async def open_case_without_signal(ctx: Context, *, team: str, household: HouseholdIn, opened_by: OpenedBy) -> Case:
    """One case per household: an open case for the same BSN or address answers 409 naming it."""
    existing = await CaseRepository(ctx.session).open_case_of_household(
        bsn_index=ctx.vault.blind_index(household.bsn) if household.bsn else None,
        address_key=_address_key(household),
    )
    if existing is not None:
        raise Conflict("this household already has an open case", field="household", case_id=existing.id)
    return await open_case(ctx, team=team, household=household, opened_by=opened_by)


def _address_key(household: HouseholdIn) -> str:
    return normalise_address_key(household.postcode, household.house_number, household.house_number_suffix)


async def close_case(ctx: Context, *, case_id: str, outcome: OutcomeCode) -> Case:
    case = await load_case(ctx, case_id, for_update=True)
    fitting = EVICTION_OUTCOME_OF_STAGE.get(case.stage)
    if fitting is not None and outcome not in fitting:
        raise Unprocessable(
            f"a case in stage {case.stage.value} closes with {', '.join(sorted(o.value for o in fitting))}",
            field="outcome_code",
        )
    if fitting is None and outcome in EVICTION_OUTCOMES and case.stage is not Stage.closed:
        raise Unprocessable(
            f"{outcome.value} is the outcome of an eviction; this case is in stage {case.stage.value}",
            field="outcome_code",
        )
    transition(ctx, case, Action.close)
    case.outcome_code = outcome
    case.closed_at = ctx.clock.now()
    await _cancel_open_tasks(ctx, case=case)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(ctx, case=case, event="case.closed", data={"outcome": outcome.value})
    return case


async def _cancel_open_tasks(ctx: Context, *, case: Case) -> None:
    """A closed case has no open tasks (belongings and notification tasks too), cancelled in the closing
    transaction rather than at the deadline worker's next run; no event, as tasks.service.cancel."""
    for task in await TaskRepository(ctx.session).of_case(case.id):
        if task.status is TaskStatus.open:
            task.status = TaskStatus.cancelled
            task.completed_at = ctx.clock.now()
            task.completed_by = ctx.principal.subject


async def read_case(ctx: Context, *, case_id: str) -> CaseDetail:
    case = await load_case(ctx, case_id)
    repository = CaseRepository(ctx.session)
    household = await repository.household(case.household_id)
    signals = await SignalRepository(ctx.session).of_case(case.id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return CaseDetail(
        **CaseSummary.model_validate(case).model_dump(),
        household=read_household(ctx, household),
        signals=[SignalRead.model_validate(signal) for signal in signals],
        allowed_actions=allowed_actions(case.stage),
    )
