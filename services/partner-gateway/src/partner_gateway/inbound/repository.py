"""Every query of inbound messages and the reference map."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from partner_gateway.deliveries.service import link_case
from partner_gateway.inbound.models import InboundMessage, InboundStatus, ReferenceMap
from service_kit.db import supports_skip_locked


class InboundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, entity: InboundMessage | ReferenceMap) -> None:
        self._session.add(entity)

    async def by_webhook_id(self, partner_id: str, webhook_id: str) -> InboundMessage | None:
        query = select(InboundMessage).where(
            InboundMessage.partner_id == partner_id, InboundMessage.webhook_id == webhook_id
        )
        return (await self._session.scalars(query)).one_or_none()

    async def of_partner(self, partner_id: str, message_id: str) -> InboundMessage | None:
        message = await self._session.get(InboundMessage, message_id)
        return message if message is not None and message.partner_id == partner_id else None

    async def due(self, *, now: datetime, limit: int) -> Sequence[InboundMessage]:
        """Received messages that are due and have no earlier received message of the same partner and
        reference: a bailiff's postponement never overtakes its schedule, even across retries."""
        earlier = aliased(InboundMessage)
        blocked = (
            select(earlier.id)
            .where(
                and_(
                    earlier.partner_id == InboundMessage.partner_id,
                    earlier.reference == InboundMessage.reference,
                    earlier.status == InboundStatus.received,
                    or_(
                        earlier.created_at < InboundMessage.created_at,
                        and_(earlier.created_at == InboundMessage.created_at, earlier.id < InboundMessage.id),
                    ),
                )
            )
            .exists()
        )
        query = (
            select(InboundMessage)
            .where(InboundMessage.status == InboundStatus.received, InboundMessage.next_attempt_at <= now, ~blocked)
            .order_by(InboundMessage.created_at, InboundMessage.id)
            .limit(limit)
        )
        if supports_skip_locked(self._session):
            query = query.with_for_update(skip_locked=True, of=InboundMessage)
        return (await self._session.scalars(query)).all()

    async def waiting(self, partner_id: str, reference: str) -> bool:
        """Whether a message of this partner and reference is still waiting to be forwarded."""
        query = select(InboundMessage.id).where(
            InboundMessage.partner_id == partner_id,
            InboundMessage.reference == reference,
            InboundMessage.status == InboundStatus.received,
        )
        return (await self._session.scalars(query.limit(1))).first() is not None

    async def case_of(self, partner_id: str, reference: str) -> str | None:
        mapping = await self._session.get(ReferenceMap, (partner_id, reference))
        return mapping.case_id if mapping is not None else None

    async def map_reference(self, *, partner_id: str, reference: str, case_id: str, now: datetime) -> None:
        """Tie a partner's reference to a case. When it is the partner's first reference to that case, the
        partner is linked to the case and gets a snapshot of what its kind may see of it now (ADR 0011)."""
        first_link = not await self.linked(partner_id, case_id)
        mapping = await self._session.get(ReferenceMap, (partner_id, reference))
        if mapping is None:
            self.add(
                ReferenceMap(
                    partner_id=partner_id, reference=reference, case_id=case_id, created_at=now, updated_at=now
                )
            )
        elif mapping.case_id != case_id:
            mapping.case_id = case_id
            mapping.updated_at = now
        if first_link:
            await link_case(self._session, partner_id=partner_id, case_id=case_id, now=now)

    async def linked(self, partner_id: str, case_id: str) -> bool:
        """Whether any reference of the partner is tied to the case."""
        query = select(ReferenceMap.reference).where(
            ReferenceMap.partner_id == partner_id, ReferenceMap.case_id == case_id
        )
        return (await self._session.scalars(query.limit(1))).first() is not None
