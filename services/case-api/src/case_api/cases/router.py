"""REST endpoints for cases, signals and contact attempts: parse, call one service function, return."""

from fastapi import APIRouter, status

from case_api.cases import service
from case_api.cases.schemas import CaseClose, CaseDetail, CaseOpen, CaseSummary
from case_api.contacts import service as contacts
from case_api.contacts.schemas import ContactAttemptIn, ContactAttemptRead
from case_api.deps import CaseContext, PartnerCaseContext
from case_api.signals import service as signals
from case_api.signals.schemas import SignalIn, SignalReceipt, SignalReceive

router = APIRouter(prefix="/v1", tags=["cases"])


@router.post("/signals", status_code=status.HTTP_201_CREATED, response_model=SignalReceipt, tags=["signals"])
async def receive_signal(body: SignalReceive, ctx: PartnerCaseContext) -> SignalReceipt:
    """Receive an arrears signal: attaches to the household's open case or opens one (R1, R2)."""
    return await signals.receive_signal(
        ctx, team=body.team, household=body.household, signal=body.signal, composition=body.composition
    )


@router.post("/cases", status_code=status.HTTP_201_CREATED, response_model=CaseDetail)
async def open_case(body: CaseOpen, ctx: CaseContext) -> CaseDetail:
    """Open a case for a household (409 when it already has an open case); publishes case.opened."""
    if body.signal is not None:
        receipt = await signals.receive_signal(
            ctx, team=body.team, household=body.household, signal=body.signal, opened_by=body.opened_by
        )
        case_id = receipt.case_id
    else:
        case = await service.open_case_without_signal(
            ctx, team=body.team, household=body.household, opened_by=body.opened_by
        )
        case_id = case.id
    await ctx.session.flush()
    return await service.read_case(ctx, case_id=case_id)


@router.get("/cases/{case_id}", response_model=CaseDetail)
async def read_case(case_id: str, ctx: CaseContext) -> CaseDetail:
    """One case with its household (BSN masked unless the role needs it) and signals."""
    return await service.read_case(ctx, case_id=case_id)


@router.post("/cases/{case_id}/signals", status_code=status.HTTP_201_CREATED, response_model=SignalReceipt)
async def attach_signal(case_id: str, body: SignalIn, ctx: CaseContext) -> SignalReceipt:
    """Attach another arrears signal to this case (R2 flags follow)."""
    return await signals.attach_signal(ctx, case_id=case_id, signal=body)


@router.post(
    "/cases/{case_id}/contact-attempts", status_code=status.HTTP_201_CREATED, response_model=ContactAttemptRead
)
async def record_contact(case_id: str, body: ContactAttemptIn, ctx: CaseContext) -> ContactAttemptRead:
    """Record an attempt to reach the household; the first moves a signalled case to outreach."""
    return ContactAttemptRead.model_validate(await contacts.record_contact(ctx, case_id=case_id, request=body))


@router.post("/cases/{case_id}/close", response_model=CaseSummary)
async def close_case(case_id: str, body: CaseClose, ctx: CaseContext) -> CaseSummary:
    """Close the case with an outcome code that fits its stage."""
    return CaseSummary.model_validate(await service.close_case(ctx, case_id=case_id, outcome=body.outcome_code))
