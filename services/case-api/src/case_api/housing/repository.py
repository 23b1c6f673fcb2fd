"""Every query of the housing domain."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.housing.models import TemporaryHousingDecision


class HousingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, decision: TemporaryHousingDecision) -> None:
        self._session.add(decision)

    async def of_case(self, case_id: str) -> Sequence[TemporaryHousingDecision]:
        query = (
            select(TemporaryHousingDecision)
            .where(TemporaryHousingDecision.case_id == case_id)
            .order_by(TemporaryHousingDecision.decided_at, TemporaryHousingDecision.id)
        )
        return (await self._session.scalars(query)).all()
