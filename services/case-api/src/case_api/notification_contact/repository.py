"""Every query the notifier's view of a case needs, beyond the case and household themselves."""

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.belongings.models import BelongingsStatus, StoredBelongings
from case_api.legal.models import EvictionChange, EvictionDateChange
from case_api.oco.models import OcoOffer


class NotificationContactRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def eviction_executed(self, case_id: str) -> bool:
        query = select(
            exists().where(EvictionDateChange.case_id == case_id, EvictionDateChange.change == EvictionChange.executed)
        )
        return bool(await self._session.scalar(query))

    async def goods_in_storage(self, case_id: str) -> StoredBelongings | None:
        """The most recently stored goods that are still in storage (neither returned nor disposed of)."""
        query = (
            select(StoredBelongings)
            .where(StoredBelongings.case_id == case_id, StoredBelongings.status == BelongingsStatus.stored)
            .order_by(StoredBelongings.stored_on.desc(), StoredBelongings.recorded_at.desc())
            .limit(1)
        )
        return (await self._session.scalars(query)).first()

    async def oco_answered(self, case_id: str) -> bool:
        query = select(exists().where(OcoOffer.case_id == case_id, OcoOffer.answer.is_not(None)))
        return bool(await self._session.scalar(query))
