"""Every query of the statistics: the facts of live cases from the legal track, and the stored facts of
cases whose personal data was erased."""

from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.cases.models import Case
from case_api.households.models import Household, Member
from case_api.legal.models import EvictionChange, EvictionDateChange, LegalStep
from case_api.statistics.models import StatisticsFact


class StatisticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_legal_steps(self, case_ids: Collection[str] | None) -> Sequence[Row[str, date]]:
        """Per case, the date of its first summons or judgment."""
        query = select(LegalStep.case_id, func.min(LegalStep.occurred_on)).group_by(LegalStep.case_id)
        if case_ids is not None:
            query = query.where(LegalStep.case_id.in_(case_ids))
        return (await self._session.execute(query)).all()

    async def first_eviction_changes(
        self, case_ids: Collection[str] | None
    ) -> Sequence[Row[str, EvictionChange, datetime, date | None]]:
        """Per case and kind of change: when it was first recorded, and the earliest date it named."""
        query = select(
            EvictionDateChange.case_id,
            EvictionDateChange.change,
            func.min(EvictionDateChange.recorded_at),
            func.min(EvictionDateChange.eviction_date),
        ).group_by(EvictionDateChange.case_id, EvictionDateChange.change)
        if case_ids is not None:
            query = query.where(EvictionDateChange.case_id.in_(case_ids))
        return (await self._session.execute(query)).all()

    async def erased_case_ids(self, case_ids: Collection[str]) -> set[str]:
        query = select(Case.id).where(Case.id.in_(case_ids), Case.erased_at.is_not(None))
        return set((await self._session.scalars(query)).all())

    async def birth_dates(self, case_ids: Collection[str]) -> Sequence[Row[str, date | None]]:
        query = (
            select(Case.id, Member.birth_date)
            .join(Member, Member.household_id == Case.household_id)
            .where(Case.id.in_(case_ids), Case.erased_at.is_(None))
        )
        return (await self._session.execute(query)).all()

    async def reported_minors(self, case_ids: Collection[str]) -> Sequence[Row[str, int]]:
        """The minors partners reported for households whose members staff have not recorded (ADR 0013)."""
        query = (
            select(Case.id, Household.reported_minors)
            .join(Household, Household.id == Case.household_id)
            .where(
                Case.id.in_(case_ids),
                Case.erased_at.is_(None),
                Household.members_by_staff.is_(False),
                Household.reported_minors.is_not(None),
            )
        )
        return (await self._session.execute(query)).all()  # type: ignore[return-value]

    async def stored_facts(self, first: date, last: date) -> Sequence[StatisticsFact]:
        query = select(StatisticsFact).where(StatisticsFact.occurred_on >= first, StatisticsFact.occurred_on <= last)
        return (await self._session.scalars(query)).all()

    async def first_contacts(self, first: date, last: date) -> Sequence[Row[date | None, datetime | None]]:
        query = select(Case.first_signal_on, Case.first_contact_at).where(
            Case.first_signal_on >= first, Case.first_signal_on <= last, Case.first_contact_at.is_not(None)
        )
        return (await self._session.execute(query)).all()
