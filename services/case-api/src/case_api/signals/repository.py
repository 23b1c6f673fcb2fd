"""Every query of the signals domain."""

from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.signals.models import Signal


class SignalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, signal: Signal) -> None:
        self._session.add(signal)

    async def count_at_address_since(self, address_key: str, since: date) -> int:
        query = select(func.count()).where(Signal.address_key == address_key, Signal.signal_date >= since)
        return int(await self._session.scalar(query) or 0)

    async def count_of_case_between(self, case_id: str, first: date, last: date) -> int:
        query = select(func.count()).where(
            Signal.case_id == case_id, Signal.signal_date >= first, Signal.signal_date <= last
        )
        return int(await self._session.scalar(query) or 0)

    async def of_partner_reference(self, case_id: str, *, partner_id: str, partner_reference: str) -> Sequence[Signal]:
        """The case's signals of one partner's reference (a tenancy or contract), oldest first."""
        query = (
            select(Signal)
            .where(
                Signal.case_id == case_id,
                Signal.partner_id == partner_id,
                Signal.partner_reference == partner_reference,
            )
            .order_by(Signal.received_at, Signal.id)
        )
        return (await self._session.scalars(query)).all()

    async def count_standing(self, case_id: str) -> int:
        """The case's signals that are not resolved."""
        query = select(func.count()).where(Signal.case_id == case_id, Signal.resolved_on.is_(None))
        return int(await self._session.scalar(query) or 0)

    async def of_case(self, case_id: str) -> Sequence[Signal]:
        return (
            await self._session.scalars(select(Signal).where(Signal.case_id == case_id).order_by(Signal.received_at))
        ).all()
