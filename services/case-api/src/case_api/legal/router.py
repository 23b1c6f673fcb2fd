"""REST endpoints for the legal track and the eviction: parse, call one service function, return."""

from fastapi import APIRouter, status

from case_api.deps import CaseContext, PartnerCaseContext
from case_api.legal import service
from case_api.legal.schemas import (
    EvictionAvert,
    EvictionCancel,
    EvictionExecute,
    EvictionPostpone,
    EvictionRead,
    EvictionSchedule,
    LegalStepIn,
    LegalStepRead,
    SecondChanceAgreementIn,
    SecondChanceAgreementRead,
)

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["legal"])


@router.post("/legal-steps", status_code=status.HTTP_201_CREATED, response_model=LegalStepRead)
async def record_legal_step(case_id: str, body: LegalStepIn, ctx: PartnerCaseContext) -> LegalStepRead:
    """Record an eviction requested, a summons served or a judgment given; publishes legal.eviction-requested,
    legal.summons-served or legal.judgment-given."""
    return LegalStepRead.model_validate(await service.record_legal_step(ctx, case_id=case_id, step=body))


@router.get("/legal-steps", response_model=list[LegalStepRead])
async def list_legal_steps(case_id: str, ctx: CaseContext) -> list[LegalStepRead]:
    """The case's eviction requests, summons and judgments, oldest first."""
    return await service.list_legal_steps(ctx, case_id=case_id)


@router.get("/eviction", response_model=EvictionRead)
async def read_eviction(case_id: str, ctx: CaseContext) -> EvictionRead:
    """The current eviction date and every message about it."""
    return await service.read_eviction(ctx, case_id=case_id)


@router.post("/eviction/schedule", response_model=EvictionRead)
async def schedule_eviction(case_id: str, body: EvictionSchedule, ctx: PartnerCaseContext) -> EvictionRead:
    """Record the eviction notice with its date; creates the R6/R7/R10 tasks; publishes eviction.scheduled."""
    return await service.schedule_eviction(ctx, case_id=case_id, request=body)


@router.post("/eviction/postpone", response_model=EvictionRead)
async def postpone_eviction(case_id: str, body: EvictionPostpone, ctx: PartnerCaseContext) -> EvictionRead:
    """Move the eviction to a new date, recomputing every task (R7); publishes eviction.postponed."""
    return await service.postpone_eviction(ctx, case_id=case_id, request=body)


@router.post("/eviction/cancel", response_model=EvictionRead)
async def cancel_eviction(case_id: str, body: EvictionCancel, ctx: PartnerCaseContext) -> EvictionRead:
    """The bailiff cancelled the eviction: the case is averted; publishes eviction.cancelled."""
    return await service.cancel_eviction(ctx, case_id=case_id, reason_code=body.reason_code)


@router.post("/eviction/avert", response_model=EvictionRead)
async def avert_eviction(case_id: str, body: EvictionAvert, ctx: CaseContext) -> EvictionRead:
    """Averted by payment, arrangement, second chance or moratorium; eviction.cancelled when a date was set."""
    return await service.avert_eviction(ctx, case_id=case_id, reason_code=body.reason_code)


@router.post("/eviction/execute", response_model=EvictionRead)
async def execute_eviction(case_id: str, body: EvictionExecute, ctx: PartnerCaseContext) -> EvictionRead:
    """Record the executed eviction (409 for a family with minors without a rehousing outcome, R11)."""
    return await service.execute_eviction(ctx, case_id=case_id, executed_on=body.executed_on)


@router.post("/second-chance-agreements", status_code=status.HTTP_201_CREATED, response_model=SecondChanceAgreementRead)
async def record_second_chance_agreement(
    case_id: str, body: SecondChanceAgreementIn, ctx: PartnerCaseContext
) -> SecondChanceAgreementRead:
    """Record a second-chance agreement offered, or signed (averting a threatened or scheduled eviction);
    publishes second-chance-agreement.offered / .signed."""
    return await service.record_second_chance_agreement(ctx, case_id=case_id, request=body)


@router.get("/second-chance-agreements", response_model=list[SecondChanceAgreementRead])
async def list_second_chance_agreements(case_id: str, ctx: CaseContext) -> list[SecondChanceAgreementRead]:
    """The second-chance agreements offered in the case, oldest first."""
    return await service.list_second_chance_agreements(ctx, case_id=case_id)
