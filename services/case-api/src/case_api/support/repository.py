"""Every query of the support domain."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.support.models import SupportKind, SupportTrajectory


class SupportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, trajectory: SupportTrajectory) -> None:
        self._session.add(trajectory)

    async def get(self, *, case_id: str, support_id: str) -> SupportTrajectory | None:
        query = select(SupportTrajectory).where(
            SupportTrajectory.id == support_id, SupportTrajectory.case_id == case_id
        )
        return (await self._session.scalars(query)).one_or_none()

    async def of_case(self, case_id: str) -> Sequence[SupportTrajectory]:
        query = (
            select(SupportTrajectory)
            .where(SupportTrajectory.case_id == case_id)
            .order_by(SupportTrajectory.started_on, SupportTrajectory.recorded_at)
        )
        return (await self._session.scalars(query)).all()

    async def active_kinds(self, case_id: str) -> frozenset[SupportKind]:
        """The kinds of support that started and have not ended."""
        query = select(SupportTrajectory.kind).where(
            SupportTrajectory.case_id == case_id, SupportTrajectory.ended_on.is_(None)
        )
        return frozenset((await self._session.scalars(query)).all())
