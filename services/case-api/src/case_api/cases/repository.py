"""Every query of the cases domain."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from case_api.cases.models import Case, Stage
from case_api.households.models import Household
from service_kit.db import supports_skip_locked


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, case: Case) -> None:
        self._session.add(case)

    async def get(self, case_id: str, *, for_update: bool = False) -> Case | None:
        query = select(Case).where(Case.id == case_id)
        if for_update and supports_skip_locked(self._session):
            # Changes of one case are serialised, so its event sequence never repeats.
            query = query.with_for_update()
        return (await self._session.scalars(query)).one_or_none()

    async def household(self, household_id: str) -> Household:
        # One round trip for the household and its members (a household has a handful of members).
        query = select(Household).where(Household.id == household_id).options(joinedload(Household.members))
        return (await self._session.scalars(query)).unique().one()

    async def open_case_of_household(self, *, bsn_index: str | None, address_key: str) -> Case | None:
        """R2: the open case a new signal belongs to: same BSN when known, else the same address."""
        query = select(Case).join(Household, Household.id == Case.household_id).where(Case.stage != Stage.closed)
        if bsn_index:
            found = (await self._session.scalars(query.where(Household.bsn_index == bsn_index).limit(1))).first()
            if found:
                return found
        return (await self._session.scalars(query.where(Household.address_key == address_key).limit(1))).first()

    async def other_open_case_of(
        self, *, household_id: str, address_key: str | None = None, bsn_index: str | None = None
    ) -> tuple[Case, str] | None:
        """R2 for a changed household: an open case of another household with `bsn_index` or at `address_key`,
        and which of the two matched ("bsn" or "address")."""
        query = (
            select(Case)
            .join(Household, Household.id == Case.household_id)
            .where(Case.stage != Stage.closed, Household.id != household_id)
            .order_by(Case.id)
            .limit(1)
        )
        if bsn_index:
            found = (await self._session.scalars(query.where(Household.bsn_index == bsn_index))).first()
            if found:
                return found, "bsn"
        if address_key:
            found = (await self._session.scalars(query.where(Household.address_key == address_key))).first()
            if found:
                return found, "address"
        return None
