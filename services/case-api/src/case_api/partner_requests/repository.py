"""Every query of requests to partners and of the case's contact person."""

from collections.abc import Sequence
from datetime import date

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.partner_requests.models import ContactPerson, PostponementRequest, SecondChanceRequest


class PartnerRequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, entity: PostponementRequest | SecondChanceRequest | ContactPerson) -> None:
        self._session.add(entity)

    async def postponement_requests(self, case_id: str) -> Sequence[PostponementRequest]:
        query = (
            select(PostponementRequest)
            .where(PostponementRequest.case_id == case_id)
            .order_by(PostponementRequest.requested_at, PostponementRequest.id)
        )
        return (await self._session.scalars(query)).all()

    async def second_chance_requests(self, case_id: str) -> Sequence[SecondChanceRequest]:
        query = (
            select(SecondChanceRequest)
            .where(SecondChanceRequest.case_id == case_id)
            .order_by(SecondChanceRequest.requested_at, SecondChanceRequest.id)
        )
        return (await self._session.scalars(query)).all()

    async def contact_person(self, case_id: str) -> ContactPerson | None:
        return await self._session.get(ContactPerson, case_id)

    async def corporation_asked_to_postpone(self, case_id: str, eviction_date: date) -> bool:
        """Whether the corporation was asked to postpone this eviction date (R10's request at T-2)."""
        query = exists().where(
            PostponementRequest.case_id == case_id,
            PostponementRequest.eviction_date == eviction_date,
            PostponementRequest.to_housing_corporation.is_(True),
        )
        return bool(await self._session.scalar(select(query)))
