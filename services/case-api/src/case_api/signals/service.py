"""Receiving arrears signals: attach to the household's open case or open one; flag consecutive and
multiple signals (R1, R2)."""

import uuid

from dateutil.relativedelta import relativedelta

from case_api.audit.models import Operation
from case_api.cases.models import OpenedBy
from case_api.cases.process import Action
from case_api.cases.repository import CaseRepository
from case_api.cases.service import CASE_FILE, compute_priority, load_case, open_case, transition
from case_api.context import Context
from case_api.events import emit
from case_api.households.models import normalise_address_key
from case_api.households.schemas import HouseholdIn
from case_api.signals.models import Signal
from case_api.signals.repository import SignalRepository
from case_api.signals.schemas import SignalIn, SignalReceipt


async def receive_signal(
    ctx: Context, *, team: str, household: HouseholdIn, signal: SignalIn, opened_by: OpenedBy = OpenedBy.signal
) -> SignalReceipt:
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
        )
    else:
        case = await load_case(ctx, found.id, for_update=True)
        transition(ctx, case, Action.attach_signal)
    return await _attach(
        ctx, case_id=case.id, signal=signal, address_key=address_key, consecutive=consecutive, opened=found is None
    )


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
