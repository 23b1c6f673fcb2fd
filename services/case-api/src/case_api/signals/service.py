"""Receiving arrears signals: attach to the household's open case or open one; flag consecutive and
multiple signals (R1, R2). Resolving them when their partner reports the arrears cleared, and what that means
for the case (ADR 0012)."""

import uuid

from dateutil.relativedelta import relativedelta

from case_api.audit.models import Operation
from case_api.cases.models import Case, OpenedBy, OutcomeCode, Stage
from case_api.cases.process import LEGAL, Action
from case_api.cases.repository import CaseRepository
from case_api.cases.service import CASE_FILE, close_case, compute_priority, load_case, open_case, transition
from case_api.context import Context
from case_api.events import emit
from case_api.households.maintenance import after_change
from case_api.households.models import minors_of_birth_years, normalise_address_key
from case_api.households.schemas import HouseholdIn
from case_api.signals.models import Signal, SignalResolution
from case_api.signals.repository import SignalRepository
from case_api.signals.schemas import (
    ArrearsCleared,
    ArrearsClearedReceipt,
    ReportedComposition,
    SignalIn,
    SignalReceipt,
)
from case_api.tasks.models import AssigneeRole, TaskKind
from case_api.tasks.schemas import TaskRead
from case_api.tasks.service import ensure_task, recompute_tasks
from service_kit.errors import Conflict, NotFound, Unprocessable

# The arrears were paid but the case has more going on: the caseworker closes it or carries on within this.
ARREARS_CLEARED_TASK_WORKING_DAYS = 5


async def receive_signal(
    ctx: Context,
    *,
    team: str,
    household: HouseholdIn,
    signal: SignalIn,
    opened_by: OpenedBy = OpenedBy.signal,
    composition: ReportedComposition | None = None,
) -> SignalReceipt:
    reported_minors = _reported_minors(composition, signal)
    address_key = normalise_address_key(household.postcode, household.house_number, household.house_number_suffix)
    signals = SignalRepository(ctx.session)
    # R2: a signal for the same address within the configured months makes the case consecutive.
    since = signal.signal_date - relativedelta(months=ctx.settings.consecutive_signal_months)
    consecutive = await signals.count_at_address_since(address_key, since) > 0
    found = await CaseRepository(ctx.session).open_case_of_household(
        bsn_index=ctx.vault.blind_index(household.bsn) if household.bsn else None, address_key=address_key
    )
    if found is None:
        case = await open_case(
            ctx,
            team=team,
            household=household,
            opened_by=opened_by,
            first_signal_on=signal.signal_date,
            crisis=signal.crisis,
            consecutive=consecutive,
            reported_minors=reported_minors,
        )
    else:
        case = await load_case(ctx, found.id, for_update=True)
        transition(ctx, case, Action.attach_signal)
    receipt = await _attach(
        ctx, case_id=case.id, signal=signal, address_key=address_key, consecutive=consecutive, opened=found is None
    )
    if found is not None:
        await _take_partner_facts(ctx, case=case, household=household, reported_minors=reported_minors)
    return receipt


def _reported_minors(composition: ReportedComposition | None, signal: SignalIn) -> int | None:
    """The minors a partner's composition tells of, on the signal's date; 422 for a birth year after it."""
    if composition is None:
        return None
    if composition.birth_years is None:
        return composition.minors_count
    if max(composition.birth_years) > signal.signal_date.year:
        raise Unprocessable(
            "a member cannot be born after the year of the signal date", field="composition.birth_years"
        )
    return minors_of_birth_years(composition.birth_years, signal.signal_date)


async def _take_partner_facts(ctx: Context, *, case: Case, household: HouseholdIn, reported_minors: int | None) -> None:
    """A partner's signal for a household with an open case: its facts fill what staff have not recorded, never
    overwrite it (ADR 0013). A minors count replaces an earlier partner's count; contact details fill only an
    empty mobile or e-mail."""
    record = await CaseRepository(ctx.session).household(case.household_id)
    changed: list[str] = []
    if reported_minors is not None and reported_minors != record.reported_minors:
        record.reported_minors = reported_minors
        changed.append("reported_minors")
    if (household.mobile and not record.mobile) or (household.email and not record.email):
        record.mobile = record.mobile or household.mobile
        record.email = record.email or household.email
        changed.append("contact")
    if changed:
        await after_change(ctx, case=case, household=record, changed=changed)


async def attach_signal(ctx: Context, *, case_id: str, signal: SignalIn) -> SignalReceipt:
    """A signal a caseworker attaches to a known case by hand."""
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.attach_signal)
    household = await CaseRepository(ctx.session).household(case.household_id)
    since = signal.signal_date - relativedelta(months=ctx.settings.consecutive_signal_months)
    consecutive = await SignalRepository(ctx.session).count_at_address_since(household.address_key, since) > 0
    return await _attach(
        ctx, case_id=case.id, signal=signal, address_key=household.address_key, consecutive=consecutive, opened=False
    )


async def _attach(
    ctx: Context, *, case_id: str, signal: SignalIn, address_key: str, consecutive: bool, opened: bool
) -> SignalReceipt:
    case = await load_case(ctx, case_id, for_update=True)
    signals = SignalRepository(ctx.session)
    month_start = signal.signal_date.replace(day=1)
    month_end = month_start + relativedelta(months=1) - relativedelta(days=1)
    # R2: several signals in one month make the case multiple.
    multiple = await signals.count_of_case_between(case.id, month_start, month_end) > 0
    record = Signal(
        id=str(uuid.uuid4()),
        case_id=case.id,
        household_id=case.household_id,
        address_key=address_key,
        partner_kind=signal.partner_kind,
        partner_id=signal.partner_id,
        partner_reference=signal.partner_reference,
        arrears_amount=signal.arrears_amount,
        arrears_since=signal.arrears_since,
        signal_date=signal.signal_date,
        crisis=signal.crisis,
        received_at=ctx.clock.now(),
    )
    signals.add(record)
    case.consecutive = case.consecutive or consecutive
    case.multiple = case.multiple or multiple
    case.crisis = case.crisis or signal.crisis
    case.first_signal_on = min(filter(None, [case.first_signal_on, signal.signal_date]), default=None)
    case.priority = compute_priority(
        has_minors=case.has_minors, crisis=case.crisis, consecutive=case.consecutive, multiple=case.multiple
    )
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="signal.received",
        data={
            "signal_id": record.id,
            "partner_kind": record.partner_kind.value,
            "arrears_since": record.arrears_since.isoformat(),
            "signal_date": record.signal_date.isoformat(),
            "crisis": record.crisis,
            "consecutive": case.consecutive,
            "multiple": case.multiple,
        },
    )
    return SignalReceipt(
        case_id=case.id, signal_id=record.id, case_opened=opened, consecutive=case.consecutive, multiple=case.multiple
    )


async def clear_arrears(ctx: Context, *, case_id: str, request: ArrearsCleared) -> ArrearsClearedReceipt:
    """The partner's signals of `partner_reference` are resolved (signal.resolved each). When no signal of the
    case stands any more: a case nobody has worked on yet (stage signalled) is closed as
    paid_or_arranged_by_themselves; any other gets a task to close it so or to carry on (ADR 0012)."""
    case = await load_case(ctx, case_id, for_update=True)
    if request.cleared_on > ctx.today():
        raise Unprocessable(
            f"cleared_on cannot lie in the future (today is {ctx.today().isoformat()})", field="cleared_on"
        )
    repository = SignalRepository(ctx.session)
    signals = await repository.of_partner_reference(
        case.id, partner_id=request.partner_id, partner_reference=request.partner_reference
    )
    if not signals:
        raise NotFound(
            f"this case has no signal of partner {request.partner_id} with reference {request.partner_reference}",
            field="partner_reference",
        )
    standing = [signal for signal in signals if signal.resolved_on is None]
    if not standing:
        raise Conflict(
            f"the arrears of reference {request.partner_reference} were reported cleared on "
            f"{max(s.resolved_on for s in signals if s.resolved_on).isoformat()} already",
            field="partner_reference",
        )
    if request.cleared_on < min(signal.arrears_since for signal in standing):
        raise Unprocessable("cleared_on lies before the arrears arose", field="cleared_on")
    transition(ctx, case, Action.resolve_signal)
    for signal in standing:
        signal.resolved_on = request.cleared_on
        signal.resolution = SignalResolution.arrears_cleared
        emit(
            ctx,
            case=case,
            event="signal.resolved",
            data={
                "signal_id": signal.id,
                "partner_kind": signal.partner_kind.value,
                "resolved_on": request.cleared_on.isoformat(),
                "resolution": SignalResolution.arrears_cleared.value,
            },
        )
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    await ctx.session.flush()
    still_standing = await repository.count_standing(case.id)
    receipt = ArrearsClearedReceipt(
        case_id=case.id,
        resolved_signal_ids=[signal.id for signal in standing],
        signals_standing=still_standing,
        case_closed=False,
        task=None,
    )
    if still_standing:
        return receipt  # another creditor's or tenancy's arrears still stand: the case goes on as it is
    if case.stage is Stage.signalled:
        await close_case(ctx, case_id=case.id, outcome=OutcomeCode.paid_or_arranged_by_themselves)
        await recompute_tasks(ctx, case=case)  # a closed case has no open tasks
        receipt.case_closed = True
        return receipt
    legal = case.stage in LEGAL
    task = await ensure_task(
        ctx,
        case=case,
        kind=TaskKind.arrears_cleared,
        purpose=f"arrears_cleared:{standing[0].id}",
        rule="arrears",
        due_date=ctx.calendar.add_working_days(ctx.today(), ARREARS_CLEARED_TASK_WORKING_DAYS),
        # In the legal track the debt counsellor weighs averting the eviction (reason arrears_paid).
        assignee_role=AssigneeRole.debt_counsellor if legal else AssigneeRole.outreach_worker,
        reason=f"the arrears were reported paid on {request.cleared_on.isoformat()}: close the case with "
        "paid_or_arranged_by_themselves, or carry on"
        + (" (averting the eviction with reason arrears_paid, if it no longer stands)" if legal else ""),
    )
    receipt.task = TaskRead.model_validate(task)
    return receipt
