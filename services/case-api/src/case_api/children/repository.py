"""Every query of the children domain."""

from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.cases.models import Case, Stage
from case_api.children.models import ChildRightsAssessment

# R11: where a family with minors needs a rehousing outcome: the date is set, or the eviction happened.
REHOUSING_NEEDED_STAGES = (Stage.eviction_scheduled, Stage.evicted, Stage.aftercare)


class ChildAssessmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, assessment: ChildRightsAssessment) -> None:
        self._session.add(assessment)

    async def of_case(self, case_id: str) -> Sequence[ChildRightsAssessment]:
        query = (
            select(ChildRightsAssessment)
            .where(ChildRightsAssessment.case_id == case_id)
            .order_by(ChildRightsAssessment.recorded_at, ChildRightsAssessment.id)
        )
        return (await self._session.scalars(query)).all()

    async def families_without_rehousing(
        self, *, team: str | None, limit: int, offset: int
    ) -> tuple[int, Sequence[Case]]:
        """R11: cases with minors, eviction scheduled or executed, and no rehousing outcome; `team` None: all."""
        query: Select[Case] = select(Case).where(
            Case.has_minors.is_(True),
            Case.stage.in_(REHOUSING_NEEDED_STAGES),
            Case.rehousing_outcome.is_(None),
        )
        if team is not None:
            query = query.where(Case.team == team)
        total = await self._session.scalar(select(func.count()).select_from(query.subquery()))
        page = query.order_by(Case.eviction_date.asc().nulls_last(), Case.id).limit(limit).offset(offset)
        return int(total or 0), (await self._session.scalars(page)).all()
