"""Every query of partner feedback."""

from collections.abc import Sequence

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.cases.models import Case
from case_api.signals.models import Signal


class PartnerFeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def signals_of_partner(self, partner_id: str, *, after: str, limit: int) -> Sequence[Row[Signal, Case]]:
        query = (
            select(Signal, Case)
            .join(Case, Case.id == Signal.case_id)
            .where(Signal.partner_id == partner_id, Signal.id > after)
            .order_by(Signal.id)
            .limit(limit)
        )
        return (await self._session.execute(query)).all()

    async def signal_of_case(self, case_id: str, signal_id: str) -> Signal | None:
        query = select(Signal).where(Signal.id == signal_id, Signal.case_id == case_id)
        return (await self._session.scalars(query)).one_or_none()
