"""REST endpoints for OCO offers, answers and consents: parse, call one service function, return."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from case_api.deps import CaseContext, GatewayContext, PartnerCaseContext
from case_api.oco import service
from case_api.oco.schemas import (
    OcoAnswerIn,
    OcoConsentRead,
    OcoOfferCreate,
    OcoOfferRead,
    OcoOverview,
    OcoReferral,
    OcoReferralRead,
    ReferralStepIn,
)
from service_kit.errors import Problem

router = APIRouter(prefix="/v1/cases/{case_id}", tags=["oco"])


@router.post("/oco-offers", status_code=status.HTTP_201_CREATED, response_model=OcoOfferRead)
async def offer_oco(case_id: str, body: OcoOfferCreate, ctx: CaseContext) -> OcoOfferRead:
    """Record an OCO offer at an R8 moment through at least two channels; publishes oco.offered."""
    return OcoOfferRead.model_validate(await service.offer_oco(ctx, case_id=case_id, request=body))


@router.post("/oco-offers/{offer_id}/answer", response_model=OcoOfferRead)
async def answer_oco(case_id: str, offer_id: str, body: OcoAnswerIn, ctx: CaseContext) -> OcoOfferRead:
    """Record the household's answer; accepting needs its consent (R9); publishes oco.accepted or oco.declined."""
    return OcoOfferRead.model_validate(await service.answer_oco(ctx, case_id=case_id, offer_id=offer_id, request=body))


@router.post("/oco-consents/{consent_id}/withdraw", response_model=OcoConsentRead)
async def withdraw_consent(case_id: str, consent_id: str, ctx: CaseContext) -> OcoConsentRead:
    """Withdraw a consent: no personal data goes to MEE Noord on it any more (R9)."""
    return OcoConsentRead.model_validate(await service.withdraw_consent(ctx, case_id=case_id, consent_id=consent_id))


@router.get("/oco", response_model=OcoOverview)
async def read_oco(case_id: str, ctx: CaseContext) -> OcoOverview:
    """The case's OCO offers, answers and consents, and the R8 moment due now."""
    return await service.read_oco(ctx, case_id=case_id)


@router.get(
    "/oco-referral",
    response_model=OcoReferral,
    responses={
        403: {"model": Problem, "description": "Not the partner gateway's service role."},
        404: {"model": Problem, "description": "No such case, or no such consent in it."},
        409: {"model": Problem, "description": "The consent was withdrawn, or the case's personal data erased."},
    },
)
async def read_referral(
    case_id: str,
    ctx: GatewayContext,
    consent_id: Annotated[
        str, Query(alias="consentId", min_length=1, max_length=36, description="The consent of oco.accepted.")
    ],
) -> OcoReferral:
    """For the partner gateway at send time: a referral to MEE Noord on a consent not withdrawn (R9, logged R17)."""
    return await service.read_referral(ctx, case_id=case_id, consent_id=consent_id)


@router.get("/oco-referrals", response_model=list[OcoReferralRead])
async def list_referrals(case_id: str, ctx: CaseContext) -> list[OcoReferralRead]:
    """The case's referrals to MEE Noord (one per consent) with MEE Noord's steps and where each stands."""
    return await service.list_referrals(ctx, case_id=case_id)


@router.post(
    "/oco-referrals/{reference}/steps",
    status_code=status.HTTP_201_CREATED,
    response_model=OcoReferralRead,
    responses={
        404: {"model": Problem, "description": "No such case, or no referral with this reference in it."},
        409: {"model": Problem, "description": "A step the referral's process does not allow now (allowed_steps)."},
    },
)
async def record_referral_step(
    case_id: str, reference: str, body: ReferralStepIn, ctx: PartnerCaseContext
) -> OcoReferralRead:
    """Record MEE Noord's step on a referral (its reference: the consent's id); publishes oco.referral-*."""
    return await service.record_referral_step(ctx, case_id=case_id, reference=reference, step=body)
