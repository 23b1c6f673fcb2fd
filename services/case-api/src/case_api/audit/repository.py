"""Every query of the processing log."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.audit.models import ProcessingLogEntry


class ProcessingLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def page(self, *, case_id: str | None, after: int, limit: int) -> Sequence[ProcessingLogEntry]:
        query = select(ProcessingLogEntry).where(ProcessingLogEntry.id > after)
        if case_id is not None:
            query = query.where(ProcessingLogEntry.case_id == case_id)
        return (await self._session.scalars(query.order_by(ProcessingLogEntry.id).limit(limit))).all()
