"""Every query of the cases domain."""

from sqlalchemy.ext.asyncio import AsyncSession

from case_api.cases.models import Case


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, case_id: str) -> Case | None:
        return await self._session.get(Case, case_id)

    def add(self, case: Case) -> None:
        self._session.add(case)
