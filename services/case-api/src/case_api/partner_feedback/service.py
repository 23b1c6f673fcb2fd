"""R3: a signal partner may learn whether its signal was picked up, never why not. Caseworkers record the
decision with its reason; the partner's view is built from a schema that has no field for the reason."""

from case_api.audit.models import Operation
from case_api.cases.models import Case, OutcomeCode, Stage
from case_api.cases.service import CASE_FILE, load_case
from case_api.context import Context
from case_api.partner_feedback.repository import PartnerFeedbackRepository
from case_api.partner_feedback.schemas import PartnerFeedbackPage, PartnerSignalFeedback, PickupDecision, PickupRead
from case_api.signals.models import Signal
from service_kit.errors import NotFound

PARTNER_FEEDBACK = "partner-feedback"  # the processing activity of telling partners about their signals (R17)
NOT_PICKED_UP = frozenset(
    {
        OutcomeCode.not_picked_up_repeat_signal,
        OutcomeCode.not_picked_up_unjustified_signal,
        OutcomeCode.not_picked_up_other_reason,
    }
)


def picked_up(signal: Signal, case: Case) -> bool | None:
    """The recorded decision; otherwise what the case shows: closed as not picked up, or worked on beyond
    `signalled`; None while nobody decided yet."""
    if signal.picked_up is not None:
        return signal.picked_up
    if case.outcome_code in NOT_PICKED_UP:
        return False
    if case.stage is not Stage.signalled:
        return True
    return None


async def record_pickup(ctx: Context, *, case_id: str, signal_id: str, decision: PickupDecision) -> PickupRead:
    case = await load_case(ctx, case_id, for_update=True)
    signal = await PartnerFeedbackRepository(ctx.session).signal_of_case(case.id, signal_id)
    if signal is None:
        raise NotFound(f"case {case_id} has no signal {signal_id}", field="signal_id")
    signal.picked_up = decision.picked_up
    signal.not_picked_up_reason = None if decision.picked_up else decision.reason
    case.updated_at = ctx.clock.now()
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    return PickupRead(
        signal_id=signal.id, case_id=case.id, picked_up=decision.picked_up, reason=signal.not_picked_up_reason
    )


async def partner_feedback(ctx: Context, *, partner_id: str, after: str, limit: int) -> PartnerFeedbackPage:
    rows = await PartnerFeedbackRepository(ctx.session).signals_of_partner(partner_id, after=after, limit=limit + 1)
    items = []
    for signal, case in rows[:limit]:
        ctx.log_processing(activity=PARTNER_FEEDBACK, case_id=case.id, operation=Operation.read)
        items.append(
            PartnerSignalFeedback(
                signal_id=signal.id,
                reference=signal.partner_reference,
                signal_date=signal.signal_date,
                picked_up=picked_up(signal, case),
            )
        )
    return PartnerFeedbackPage(
        partner_id=partner_id, items=items, next_after=items[-1].signal_id if len(rows) > limit else None
    )
