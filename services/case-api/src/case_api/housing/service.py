"""Temporary housing after an eviction (R13): eligibility follows from the case's active support, is explained
condition by condition, and a team lead may grant it anyway with a recorded reason. Every decision records the
family's rehousing outcome, which R11 asks before an eviction of a family with minors is recorded."""

import uuid
from collections.abc import Collection

from case_api.audit.models import Operation
from case_api.cases.models import RehousingOutcome
from case_api.cases.process import Action
from case_api.cases.service import CASE_FILE, load_case, transition
from case_api.context import Context
from case_api.events import emit
from case_api.housing.models import TemporaryHousingDecision
from case_api.housing.repository import HousingRepository
from case_api.housing.schemas import (
    Condition,
    Eligibility,
    MissingCondition,
    TemporaryHousingDecisionCreate,
    TemporaryHousingDecisionRead,
)
from case_api.support.models import FINANCIAL_GUIDANCE, SupportKind
from case_api.support.service import active_support_kinds
from service_kit.auth import Role
from service_kit.errors import Forbidden, Unprocessable

EXPLANATION = {
    Condition.debt_arrangement: "no debt arrangement (schuldregeling) is in place: start support of kind "
    "debt_arrangement",
    Condition.financial_guidance: "no financial guidance is active: start support of kind budget_management "
    "(budgetbeheer) or protective_administration (beschermingsbewind)",
}
OVERRIDE_ROLE = Role.team_lead  # R13: only a team lead grants temporary housing when a condition is missing
NOT_GRANTED_OUTCOMES = frozenset({RehousingOutcome.own_solution, RehousingOutcome.refused_with_reason})


def eligibility_of(case_id: str, active_kinds: Collection[SupportKind]) -> Eligibility:
    """R13 from the kinds of support that are active now; names every missing condition."""
    debt_arrangement = SupportKind.debt_arrangement in active_kinds
    guidance = any(kind in FINANCIAL_GUIDANCE for kind in active_kinds)
    missing = [
        MissingCondition(condition=condition, explanation=EXPLANATION[condition])
        for condition, met in ((Condition.debt_arrangement, debt_arrangement), (Condition.financial_guidance, guidance))
        if not met
    ]
    return Eligibility(
        case_id=case_id,
        eligible=not missing,
        debt_arrangement_in_place=debt_arrangement,
        financial_guidance_active=guidance,
        missing=missing,
    )


def _missing_text(eligibility: Eligibility) -> str:
    return "; ".join(item.explanation for item in eligibility.missing)


async def read_eligibility(ctx: Context, *, case_id: str) -> Eligibility:
    case = await load_case(ctx, case_id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return eligibility_of(case.id, await active_support_kinds(ctx, case_id=case.id))


async def decide_temporary_housing(
    ctx: Context, *, case_id: str, request: TemporaryHousingDecisionCreate
) -> TemporaryHousingDecision:
    """Grant (eligible, or a team lead's override with a reason) or refuse (with a reason); an evicted case moves
    to aftercare; publishes temporary-housing.decided."""
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.decide_temporary_housing)
    eligibility = eligibility_of(case.id, await active_support_kinds(ctx, case_id=case.id))
    override_reason = (request.override_reason or "").strip() or None
    refusal_reason = (request.refusal_reason or "").strip() or None
    missing = [item.condition.value for item in eligibility.missing]
    if request.granted:
        outcome = _check_grant(ctx, request, eligibility, override_reason, refusal_reason, missing)
    else:
        outcome = _check_refusal(request, override_reason, refusal_reason)
    decision = TemporaryHousingDecision(
        id=str(uuid.uuid4()),
        case_id=case.id,
        granted=request.granted,
        debt_arrangement_in_place=eligibility.debt_arrangement_in_place,
        financial_guidance_active=eligibility.financial_guidance_active,
        override_reason=override_reason,
        refusal_reason=refusal_reason,
        rehousing_outcome=outcome.value,
        decided_by=ctx.principal.subject,
        decided_at=ctx.clock.now(),
    )
    HousingRepository(ctx.session).add(decision)
    case.rehousing_outcome = outcome
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="temporary-housing.decided",
        data={
            "granted": decision.granted,
            "debt_arrangement_in_place": decision.debt_arrangement_in_place,
            "financial_guidance_active": decision.financial_guidance_active,
            "override_reason_present": decision.override_reason is not None,
        },
    )
    return decision


def _check_grant(
    ctx: Context,
    request: TemporaryHousingDecisionCreate,
    eligibility: Eligibility,
    override_reason: str | None,
    refusal_reason: str | None,
    missing: list[str],
) -> RehousingOutcome:
    if refusal_reason is not None:
        raise Unprocessable("a grant carries no refusal_reason: leave it out", field="refusal_reason")
    if request.rehousing_outcome not in (None, RehousingOutcome.temporary_housing_granted):
        raise Unprocessable(
            "granted temporary housing has the rehousing outcome temporary_housing_granted", field="rehousing_outcome"
        )
    if eligibility.eligible:
        if override_reason is not None:
            raise Unprocessable(
                "both conditions of R13 are met: no override is needed, leave override_reason out",
                field="override_reason",
            )
        return RehousingOutcome.temporary_housing_granted
    if not ctx.principal.has_role(OVERRIDE_ROLE):
        raise Forbidden(
            f"the household is not eligible ({_missing_text(eligibility)}); only a team lead may grant temporary "
            "housing anyway, with a reason (R13)",
            field="granted",
            rule="R13",
            missing=missing,
        )
    if override_reason is None:
        raise Unprocessable(
            f"the household is not eligible ({_missing_text(eligibility)}); granting it anyway needs an "
            "override_reason (R13)",
            field="override_reason",
            rule="R13",
            missing=missing,
        )
    return RehousingOutcome.temporary_housing_granted


def _check_refusal(
    request: TemporaryHousingDecisionCreate, override_reason: str | None, refusal_reason: str | None
) -> RehousingOutcome:
    if override_reason is not None:
        raise Unprocessable("an override_reason belongs to a grant: leave it out", field="override_reason")
    if refusal_reason is None:
        raise Unprocessable("refusing temporary housing needs a refusal_reason", field="refusal_reason")
    outcome = request.rehousing_outcome or RehousingOutcome.refused_with_reason
    if outcome not in NOT_GRANTED_OUTCOMES:
        raise Unprocessable(
            "when temporary housing is not granted the rehousing outcome is own_solution or refused_with_reason",
            field="rehousing_outcome",
        )
    return outcome


async def list_decisions(ctx: Context, *, case_id: str) -> list[TemporaryHousingDecisionRead]:
    case = await load_case(ctx, case_id)
    decisions = await HousingRepository(ctx.session).of_case(case.id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return [TemporaryHousingDecisionRead.model_validate(decision) for decision in decisions]
