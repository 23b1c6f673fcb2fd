"""Every query of the timeline: the case's events as the outbox holds them."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.db import OutboxRecord


class TimelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def payloads_of_case(self, case_id: str) -> Sequence[bytes]:
        """Every event ever written for the case (the outbox key is the case id; ix_outbox_key_id serves it)."""
        query = select(OutboxRecord.payload).where(OutboxRecord.key == case_id).order_by(OutboxRecord.id)
        return (await self._session.scalars(query)).all()
