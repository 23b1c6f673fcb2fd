"""Every query of the belongings domain."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.belongings.models import StoredBelongings


class BelongingsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, belongings: StoredBelongings) -> None:
        self._session.add(belongings)

    async def get(self, *, case_id: str, belongings_id: str) -> StoredBelongings | None:
        query = select(StoredBelongings).where(
            StoredBelongings.id == belongings_id, StoredBelongings.case_id == case_id
        )
        return (await self._session.scalars(query)).one_or_none()

    async def of_case(self, case_id: str) -> Sequence[StoredBelongings]:
        query = (
            select(StoredBelongings)
            .where(StoredBelongings.case_id == case_id)
            .order_by(StoredBelongings.stored_on, StoredBelongings.recorded_at)
        )
        return (await self._session.scalars(query)).all()
