"""Every query of the notifications domain."""

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.notifications.models import Notification, Status
from service_kit.db import supports_skip_locked


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, notification: Notification) -> None:
        self._session.add(notification)

    async def exists(self, *, case_id: str, moment: str, occasion: str, channel: str) -> bool:
        found = await self._session.scalar(
            select(Notification.id).where(
                Notification.case_id == case_id,
                Notification.moment == moment,
                Notification.occasion == occasion,
                Notification.channel == channel,
            )
        )
        return found is not None

    async def for_case(self, case_id: str) -> Sequence[Notification]:
        result = await self._session.scalars(
            select(Notification).where(Notification.case_id == case_id).order_by(Notification.created_at)
        )
        return result.all()

    async def claim_requested(self, limit: int) -> Sequence[Notification]:
        query = select(Notification).where(Notification.status == Status.requested).order_by(Notification.created_at)
        if supports_skip_locked(self._session):
            query = query.with_for_update(skip_locked=True)
        return (await self._session.scalars(query.limit(limit))).all()

    async def count_by_channel_and_status(self) -> list[tuple[str, Status, int]]:
        query = select(Notification.channel, Notification.status, func.count()).group_by(
            Notification.channel, Notification.status
        )
        return [(channel, status, int(count)) for channel, status, count in (await self._session.execute(query)).all()]
