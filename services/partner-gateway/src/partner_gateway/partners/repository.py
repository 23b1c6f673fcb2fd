"""Every query of the partner registry."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from partner_gateway.partners.models import Partner, Subscription


class PartnerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, partner_id: str) -> Partner | None:
        return await self._session.get(Partner, partner_id)

    def add(self, entity: Partner | Subscription) -> None:
        self._session.add(entity)

    async def active_subscriptions(self) -> Sequence[tuple[Subscription, Partner]]:
        result = await self._session.execute(
            select(Subscription, Partner).join(Partner).where(Subscription.active.is_(True))
        )
        return [(subscription, partner) for subscription, partner in result.all()]

    async def subscriptions_of(self, partner_id: str) -> Sequence[Subscription]:
        query = select(Subscription).where(Subscription.partner_id == partner_id).order_by(Subscription.created_at)
        return (await self._session.scalars(query)).all()
