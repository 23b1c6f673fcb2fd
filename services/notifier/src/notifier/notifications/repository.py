"""Every query of the notifications domain."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.notifications.models import (
    WAITING,
    CaseState,
    ChannelDecision,
    DeliveryAttempt,
    Moment,
    Notification,
    PlannedMoment,
    PlanStatus,
    Status,
)
from service_kit.db import supports_skip_locked


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, notification: Notification) -> None:
        self._session.add(notification)

    async def get(self, notification_id: str, *, for_update: bool = False) -> Notification | None:
        query = select(Notification).where(Notification.id == notification_id)
        if for_update:
            query = query.with_for_update()
        return await self._session.scalar(query)

    async def get_many(self, notification_ids: Sequence[str], *, for_update: bool = False) -> dict[str, Notification]:
        if not notification_ids:
            return {}
        query = select(Notification).where(Notification.id.in_(notification_ids)).order_by(Notification.id)
        if for_update:
            query = query.with_for_update()
        return {n.id: n for n in (await self._session.scalars(query)).all()}

    async def channels_used(self, *, case_id: str, moment: str, occasion: str) -> set[str]:
        found = await self._session.scalars(
            select(Notification.channel).where(
                Notification.case_id == case_id, Notification.moment == moment, Notification.occasion == occasion
            )
        )
        return set(found.all())

    async def channels_used_by_occasion(self, case_ids: Sequence[str]) -> dict[tuple[str, str, str], set[str]]:
        """The channels every moment and occasion of these cases has a notification on, in one query."""
        used: dict[tuple[str, str, str], set[str]] = {}
        if not case_ids:
            return used
        rows = await self._session.execute(
            select(Notification.case_id, Notification.moment, Notification.occasion, Notification.channel).where(
                Notification.case_id.in_(sorted(set(case_ids)))
            )
        )
        for case_id, moment, occasion, channel in rows.all():
            used.setdefault((case_id, moment, occasion), set()).add(channel)
        return used

    async def case_state(self, case_id: str, *, for_update: bool = False) -> CaseState | None:
        query = select(CaseState).where(CaseState.case_id == case_id)
        if for_update:
            query = query.with_for_update()
        return await self._session.scalar(query)

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
            select(Notification)
            .where(Notification.case_id == case_id)
            .order_by(Notification.created_at, Notification.id)
        )
        return result.all()

    async def attempts_of(self, notification_ids: Sequence[str]) -> Sequence[DeliveryAttempt]:
        if not notification_ids:
            return []
        result = await self._session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.notification_id.in_(notification_ids))
            .order_by(DeliveryAttempt.id)
        )
        return result.all()

    async def decisions_for(self, case_id: str) -> Sequence[ChannelDecision]:
        result = await self._session.scalars(
            select(ChannelDecision).where(ChannelDecision.case_id == case_id).order_by(ChannelDecision.decided_at)
        )
        return result.all()

    async def planned(self, case_id: str, moment: Moment, occasion: str) -> PlannedMoment | None:
        return await self._session.scalar(
            select(PlannedMoment).where(
                PlannedMoment.case_id == case_id, PlannedMoment.moment == moment, PlannedMoment.occasion == occasion
            )
        )

    async def planned_for_case(self, case_id: str) -> Sequence[PlannedMoment]:
        result = await self._session.scalars(
            select(PlannedMoment).where(PlannedMoment.case_id == case_id).order_by(PlannedMoment.due_at)
        )
        return result.all()

    async def pending_of(self, case_id: str, moments: frozenset[Moment]) -> Sequence[PlannedMoment]:
        result = await self._session.scalars(
            select(PlannedMoment).where(
                PlannedMoment.case_id == case_id,
                PlannedMoment.status == PlanStatus.pending,
                PlannedMoment.moment.in_([m.value for m in moments]),
            )
        )
        return result.all()

    async def waiting_of(self, case_id: str, moments: frozenset[Moment]) -> Sequence[Notification]:
        result = await self._session.scalars(
            select(Notification).where(
                Notification.case_id == case_id,
                Notification.status.in_([s.value for s in WAITING]),
                Notification.moment.in_([m.value for m in moments]),
            )
        )
        return result.all()

    async def claim_due_moments(self, now: datetime, limit: int) -> Sequence[PlannedMoment]:
        query = (
            select(PlannedMoment)
            .where(PlannedMoment.status == PlanStatus.pending, PlannedMoment.due_at <= now)
            .order_by(PlannedMoment.due_at, PlannedMoment.id)
            .limit(limit)
        )
        if supports_skip_locked(self._session):
            query = query.with_for_update(skip_locked=True)
        return (await self._session.scalars(query)).all()

    async def claim_due(self, now: datetime, *, stale_before: datetime, limit: int) -> Sequence[Notification]:
        """Notifications to hand over now: waiting ones that are due, and ones left `sending` since before
        `stale_before` by a dispatcher that stopped (docs/adr/0009: which of those may be handed over again)."""
        query = (
            select(Notification)
            .where(
                or_(
                    (Notification.status.in_([s.value for s in WAITING])) & (Notification.due_at <= now),
                    (Notification.status == Status.sending) & (Notification.sending_since < stale_before),
                )
            )
            .order_by(Notification.due_at, Notification.id)
            .limit(limit)
        )
        if supports_skip_locked(self._session):
            query = query.with_for_update(skip_locked=True)
        return (await self._session.scalars(query)).all()

    async def count_by_channel_and_status(self) -> list[tuple[str, Status, int]]:
        query = select(Notification.channel, Notification.status, func.count()).group_by(
            Notification.channel, Notification.status
        )
        return [(channel, status, int(count)) for channel, status, count in (await self._session.execute(query)).all()]
