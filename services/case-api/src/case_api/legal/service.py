"""The legal track and the eviction: summons and judgment, the eviction date with its history, postponement
(R7), cancellation, averting, execution (R11). Every change of the date recomputes the case's tasks in the same
transaction (R6, R7, R10).

Averting (payment, arrangement, second-chance agreement, moratorium) has no event of its own in the catalogue
(contract.md). When an eviction date was set, averting ends it as the bailiff's cancellation does, so it writes
eviction.cancelled with the reason code; without a date nothing was scheduled to cancel, and the averting is
recorded in the eviction's history and the stage only. A second-chance agreement the corporation offered is
recorded with events of its own (second-chance-agreement.offered, .signed); its signing averts the eviction so.
"""

import uuid
from datetime import date

from case_api.audit.models import Operation
from case_api.cases.models import Case
from case_api.cases.process import LEGAL, Action, allowed_actions
from case_api.cases.service import CASE_FILE, load_case, transition
from case_api.context import Context
from case_api.events import emit
from case_api.legal.models import (
    COURT_STEPS,
    CancellationReason,
    EvictionChange,
    EvictionDateChange,
    LegalStep,
    LegalStepKind,
    SecondChanceAgreement,
)
from case_api.legal.repository import LegalRepository
from case_api.legal.schemas import (
    EvictionDateChangeRead,
    EvictionPostpone,
    EvictionRead,
    EvictionSchedule,
    LegalStepIn,
    LegalStepRead,
    SecondChanceAgreementIn,
    SecondChanceAgreementRead,
)
from case_api.tasks.service import recompute_tasks
from service_kit.errors import Conflict, Unprocessable

# What averts an eviction without the bailiff: the household or the landlord acted.
AVERTING_REASONS = frozenset(
    {
        CancellationReason.arrears_paid,
        CancellationReason.payment_arrangement,
        CancellationReason.debt_arrangement,
        CancellationReason.second_chance_agreement,
        CancellationReason.moratorium,
    }
)


def _not_in_future(ctx: Context, day: date, field: str) -> None:
    if day > ctx.today():
        raise Unprocessable(f"{field} cannot lie in the future (today is {ctx.today().isoformat()})", field=field)


# The process action of each kind of legal step.
STEP_ACTIONS = {
    LegalStepKind.eviction_requested: Action.request_eviction,
    LegalStepKind.summons_served: Action.serve_summons,
    LegalStepKind.judgment_given: Action.give_judgment,
}


def _check_step(step: LegalStepIn) -> None:
    """Each kind carries its own facts only: a court number for the court's steps, a hearing date for a summons,
    whether the eviction is granted for a judgment."""
    kind = step.kind
    if kind in COURT_STEPS and step.court_reference is None:
        raise Unprocessable(f"a {kind.value} step names the court's case number", field="court_reference")
    if kind not in COURT_STEPS and step.court_reference is not None:
        raise Unprocessable(
            "an eviction request has no court's case number yet: leave court_reference out", field="court_reference"
        )
    if kind is not LegalStepKind.judgment_given and step.eviction_granted is not None:
        raise Unprocessable(f"eviction_granted belongs to a judgment, not to a {kind.value}", field="eviction_granted")
    if kind is not LegalStepKind.summons_served and step.hearing_date is not None:
        raise Unprocessable(f"hearing_date belongs to a summons, not to a {kind.value}", field="hearing_date")


async def record_legal_step(ctx: Context, *, case_id: str, step: LegalStepIn) -> LegalStep:
    """An eviction requested by the landlord, a summons served or a judgment given: the eviction is threatened
    (R5: first contact within 3 working days; R8: OCO is offered)."""
    _check_step(step)
    _not_in_future(ctx, step.occurred_on, "occurred_on")
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, STEP_ACTIONS[step.kind])
    record = LegalStep(
        id=str(uuid.uuid4()),
        case_id=case.id,
        kind=step.kind,
        occurred_on=step.occurred_on,
        court_reference=step.court_reference,
        hearing_date=step.hearing_date,
        eviction_granted=step.eviction_granted,
        recorded_by=ctx.principal.subject,
        recorded_at=ctx.clock.now(),
    )
    LegalRepository(ctx.session).add(record)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    if step.kind is LegalStepKind.eviction_requested:
        emit(ctx, case=case, event="legal.eviction-requested", data={"requested_on": step.occurred_on.isoformat()})
    elif step.kind is LegalStepKind.summons_served:
        data: dict[str, object] = {"served_on": step.occurred_on.isoformat(), "court_reference": step.court_reference}
        if step.hearing_date is not None:
            data["hearing_date"] = step.hearing_date.isoformat()
        emit(ctx, case=case, event="legal.summons-served", data=data)
    else:
        data = {"given_on": step.occurred_on.isoformat(), "court_reference": step.court_reference}
        if step.eviction_granted is not None:
            data["eviction_granted"] = step.eviction_granted
        emit(ctx, case=case, event="legal.judgment-given", data=data)
    await recompute_tasks(ctx, case=case)
    return record


async def list_legal_steps(ctx: Context, *, case_id: str) -> list[LegalStepRead]:
    case = await load_case(ctx, case_id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return [LegalStepRead.model_validate(step) for step in await LegalRepository(ctx.session).steps_of_case(case.id)]


def _late_notice(ctx: Context, *, eviction_date: date, served_on: date) -> bool:
    """R7: served fewer than `postponement_notice_days` calendar days before the date (art. 555 lid 2 Rv)."""
    return (eviction_date - served_on).days < ctx.settings.postponement_notice_days


def _check_dates(ctx: Context, *, eviction_date: date, served_on: date) -> None:
    _not_in_future(ctx, served_on, "served_on")
    if eviction_date < ctx.today():
        raise Unprocessable(
            "the eviction date lies in the past; record an executed eviction instead", field="eviction_date"
        )
    if eviction_date < served_on:
        raise Unprocessable("the eviction date lies before the day it was served", field="eviction_date")


async def _record_change(ctx: Context, *, case: Case, change: EvictionChange, **values: object) -> EvictionDateChange:
    history = await LegalRepository(ctx.session).eviction_history(case.id)
    record = EvictionDateChange(
        id=str(uuid.uuid4()),
        case_id=case.id,
        position=len(history) + 1,  # the case is locked: no other change takes this position
        change=change,
        recorded_by=ctx.principal.subject,
        recorded_at=ctx.clock.now(),
        **values,
    )
    LegalRepository(ctx.session).add(record)
    await ctx.session.flush()  # the next change in this transaction counts this one
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    return record


async def schedule_eviction(ctx: Context, *, case_id: str, request: EvictionSchedule) -> EvictionRead:
    """The eviction notice with a date: tasks R6, R7 and (with minors) R10 are created at once."""
    _check_dates(ctx, eviction_date=request.eviction_date, served_on=request.served_on)
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.schedule_eviction)
    late = _late_notice(ctx, eviction_date=request.eviction_date, served_on=request.served_on)
    case.eviction_date = request.eviction_date
    await _record_change(
        ctx,
        case=case,
        change=EvictionChange.scheduled,
        eviction_date=request.eviction_date,
        served_on=request.served_on,
        late_notice=late,
        bailiff_reference=request.bailiff_reference,
    )
    emit(
        ctx,
        case=case,
        event="eviction.scheduled",
        data={"eviction_date": request.eviction_date.isoformat(), "late_notice": late},
    )
    await recompute_tasks(ctx, case=case)
    return await _eviction_of(ctx, case)


async def postpone_eviction(ctx: Context, *, case_id: str, request: EvictionPostpone) -> EvictionRead:
    """A new date (R7): every deadline is recomputed; served fewer than 3 days before it, it is flagged."""
    _check_dates(ctx, eviction_date=request.eviction_date, served_on=request.served_on)
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.postpone_eviction)
    previous = case.eviction_date
    if previous is None or previous == request.eviction_date:
        raise Unprocessable("the new eviction date must differ from the current one", field="eviction_date")
    late = _late_notice(ctx, eviction_date=request.eviction_date, served_on=request.served_on)
    case.eviction_date = request.eviction_date
    await _record_change(
        ctx,
        case=case,
        change=EvictionChange.postponed,
        eviction_date=request.eviction_date,
        previous_eviction_date=previous,
        served_on=request.served_on,
        late_notice=late,
        bailiff_reference=request.bailiff_reference,
    )
    emit(
        ctx,
        case=case,
        event="eviction.postponed",
        data={
            "eviction_date": request.eviction_date.isoformat(),
            "previous_eviction_date": previous.isoformat(),
            "late_notice": late,
        },
    )
    await recompute_tasks(ctx, case=case)
    return await _eviction_of(ctx, case)


async def cancel_eviction(ctx: Context, *, case_id: str, reason_code: CancellationReason) -> EvictionRead:
    """The bailiff cancels the eviction: averted; the date's tasks are cancelled."""
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.cancel_eviction)
    await _end_date(ctx, case=case, change=EvictionChange.cancelled, reason_code=reason_code)
    await recompute_tasks(ctx, case=case)
    return await _eviction_of(ctx, case)


async def avert_eviction(ctx: Context, *, case_id: str, reason_code: CancellationReason) -> EvictionRead:
    """Averted by payment, an arrangement, a second-chance agreement or a moratorium (see the module docstring)."""
    if reason_code not in AVERTING_REASONS:
        allowed = ", ".join(sorted(reason.value for reason in AVERTING_REASONS))
        raise Unprocessable(f"an eviction is averted by one of: {allowed}", field="reason_code")
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.avert_eviction)
    await _end_date(ctx, case=case, change=EvictionChange.averted, reason_code=reason_code)
    await recompute_tasks(ctx, case=case)
    return await _eviction_of(ctx, case)


async def _end_date(ctx: Context, *, case: Case, change: EvictionChange, reason_code: CancellationReason) -> None:
    ended = case.eviction_date
    case.eviction_date = None  # the history keeps the date that was ended
    await _record_change(ctx, case=case, change=change, previous_eviction_date=ended, reason_code=reason_code)
    if ended is not None:
        emit(
            ctx,
            case=case,
            event="eviction.cancelled",
            data={"eviction_date": ended.isoformat(), "reason_code": reason_code.value},
        )


async def execute_eviction(ctx: Context, *, case_id: str, executed_on: date) -> EvictionRead:
    """The eviction took place; a family with minors needs its rehousing outcome first (R11, 409)."""
    _not_in_future(ctx, executed_on, "executed_on")
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.execute_eviction)
    previous = case.eviction_date
    case.eviction_date = executed_on
    await _record_change(
        ctx, case=case, change=EvictionChange.executed, eviction_date=executed_on, previous_eviction_date=previous
    )
    emit(ctx, case=case, event="eviction.executed", data={"executed_on": executed_on.isoformat()})
    await recompute_tasks(ctx, case=case)
    return await _eviction_of(ctx, case)


async def read_eviction(ctx: Context, *, case_id: str) -> EvictionRead:
    case = await load_case(ctx, case_id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return await _eviction_of(ctx, case)


async def _eviction_of(ctx: Context, case: Case) -> EvictionRead:
    history = await LegalRepository(ctx.session).eviction_history(case.id)
    current = next((change for change in reversed(history) if change.eviction_date is not None), None)
    return EvictionRead(
        case_id=case.id,
        stage=case.stage,
        eviction_date=case.eviction_date,
        late_notice=bool(case.eviction_date and current and current.late_notice),
        history=[EvictionDateChangeRead.model_validate(change) for change in history],
        allowed_actions=allowed_actions(case.stage),
    )


def _agreement_read(agreement: SecondChanceAgreement, *, case: Case, averted: bool) -> SecondChanceAgreementRead:
    return SecondChanceAgreementRead(
        id=agreement.id,
        case_id=agreement.case_id,
        offered_on=agreement.offered_on,
        signed_on=agreement.signed_on,
        partner_id=agreement.partner_id,
        recorded_by=agreement.recorded_by,
        recorded_at=agreement.recorded_at,
        stage=case.stage,
        eviction_averted=averted,
    )


async def record_second_chance_agreement(
    ctx: Context, *, case_id: str, request: SecondChanceAgreementIn
) -> SecondChanceAgreementRead:
    """A second-chance agreement offered (second-chance-agreement.offered); signed, it averts a threatened or
    scheduled eviction (second-chance-agreement.signed, and eviction.cancelled when a date was set). A signing
    completes the unsigned agreement offered on the same day, if there is one."""
    _not_in_future(ctx, request.offered_on, "offered_on")
    if request.signed_on is not None:
        _not_in_future(ctx, request.signed_on, "signed_on")
        if request.signed_on < request.offered_on:
            raise Unprocessable("signed_on lies before offered_on", field="signed_on")
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.record_second_chance_agreement)
    repository = LegalRepository(ctx.session)
    same_day = [a for a in await repository.second_chance_agreements(case.id) if a.offered_on == request.offered_on]
    agreement = next((a for a in same_day if a.signed_on is None), None)
    if agreement is None and same_day and request.signed_on is not None:
        raise Conflict(
            f"the agreement offered on {request.offered_on.isoformat()} was signed on "
            f"{same_day[-1].signed_on.isoformat() if same_day[-1].signed_on else '?'} already",
            field="signed_on",
        )
    if agreement is None:
        agreement = SecondChanceAgreement(
            id=str(uuid.uuid4()),
            case_id=case.id,
            offered_on=request.offered_on,
            partner_id=request.partner_id,
            recorded_by=ctx.principal.subject,
            recorded_at=ctx.clock.now(),
        )
        repository.add(agreement)
        emit(
            ctx,
            case=case,
            event="second-chance-agreement.offered",
            data={"agreement_id": agreement.id, "offered_on": request.offered_on.isoformat()},
        )
    elif request.signed_on is None:
        raise Conflict(
            f"an agreement offered on {request.offered_on.isoformat()} is recorded already; send signed_on once "
            "the household signed it",
            field="offered_on",
        )
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    averted = False
    if request.signed_on is not None:
        agreement.signed_on = request.signed_on
        averted = case.stage in LEGAL
        if averted:
            transition(ctx, case, Action.avert_eviction)
            await _end_date(
                ctx, case=case, change=EvictionChange.averted, reason_code=CancellationReason.second_chance_agreement
            )
        emit(
            ctx,
            case=case,
            event="second-chance-agreement.signed",
            data={
                "agreement_id": agreement.id,
                "signed_on": request.signed_on.isoformat(),
                "eviction_averted": averted,
            },
        )
        if averted:
            await recompute_tasks(ctx, case=case)
    await ctx.session.flush()
    return _agreement_read(agreement, case=case, averted=averted)


async def list_second_chance_agreements(ctx: Context, *, case_id: str) -> list[SecondChanceAgreementRead]:
    case = await load_case(ctx, case_id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    agreements = await LegalRepository(ctx.session).second_chance_agreements(case.id)
    return [_agreement_read(agreement, case=case, averted=False) for agreement in agreements]
