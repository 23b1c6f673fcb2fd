"""Every query of the legal domain."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.legal.models import EvictionDateChange, LegalStep, SecondChanceAgreement


class LegalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, record: LegalStep | EvictionDateChange | SecondChanceAgreement) -> None:
        self._session.add(record)

    async def steps_of_case(self, case_id: str) -> Sequence[LegalStep]:
        query = (
            select(LegalStep)
            .where(LegalStep.case_id == case_id)
            .order_by(LegalStep.occurred_on, LegalStep.recorded_at, LegalStep.id)
        )
        return (await self._session.scalars(query)).all()

    async def eviction_history(self, case_id: str) -> Sequence[EvictionDateChange]:
        query = (
            select(EvictionDateChange)
            .where(EvictionDateChange.case_id == case_id)
            .order_by(EvictionDateChange.position)
        )
        return (await self._session.scalars(query)).all()

    async def second_chance_agreements(self, case_id: str) -> Sequence[SecondChanceAgreement]:
        query = (
            select(SecondChanceAgreement)
            .where(SecondChanceAgreement.case_id == case_id)
            .order_by(SecondChanceAgreement.offered_on, SecondChanceAgreement.recorded_at, SecondChanceAgreement.id)
        )
        return (await self._session.scalars(query)).all()
