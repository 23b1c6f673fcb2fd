"""Every query of the OCO domain."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.oco.models import OcoConsent, OcoOffer, OcoReferralStep


class OcoRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, record: OcoOffer | OcoConsent | OcoReferralStep) -> None:
        self._session.add(record)

    async def offer(self, *, case_id: str, offer_id: str) -> OcoOffer | None:
        query = select(OcoOffer).where(OcoOffer.id == offer_id, OcoOffer.case_id == case_id)
        return (await self._session.scalars(query)).one_or_none()

    async def offers(self, case_id: str) -> Sequence[OcoOffer]:
        query = select(OcoOffer).where(OcoOffer.case_id == case_id).order_by(OcoOffer.offered_at, OcoOffer.id)
        return (await self._session.scalars(query)).all()

    async def consent(self, *, case_id: str, consent_id: str) -> OcoConsent | None:
        query = select(OcoConsent).where(OcoConsent.id == consent_id, OcoConsent.case_id == case_id)
        return (await self._session.scalars(query)).one_or_none()

    async def consents(self, case_id: str) -> Sequence[OcoConsent]:
        query = select(OcoConsent).where(OcoConsent.case_id == case_id).order_by(OcoConsent.given_at, OcoConsent.id)
        return (await self._session.scalars(query)).all()

    async def valid_consent(self, case_id: str) -> OcoConsent | None:
        """The latest consent of the case that is not withdrawn."""
        query = (
            select(OcoConsent)
            .where(OcoConsent.case_id == case_id, OcoConsent.withdrawn_at.is_(None))
            .order_by(OcoConsent.given_at.desc(), OcoConsent.id.desc())
            .limit(1)
        )
        return (await self._session.scalars(query)).first()

    async def referral_steps(self, case_id: str) -> Sequence[OcoReferralStep]:
        """Every step of the case's referrals, in the order recorded."""
        query = (
            select(OcoReferralStep)
            .where(OcoReferralStep.case_id == case_id)
            .order_by(OcoReferralStep.consent_id, OcoReferralStep.position)
        )
        return (await self._session.scalars(query)).all()
