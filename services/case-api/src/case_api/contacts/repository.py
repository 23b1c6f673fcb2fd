"""Every query of the contacts domain."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.contacts.models import ContactAttempt


class ContactRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, attempt: ContactAttempt) -> None:
        self._session.add(attempt)

    async def of_notification(self, notification_id: str) -> ContactAttempt | None:
        """The attempt recorded for a notifier message (notification ids are unique across cases)."""
        query = select(ContactAttempt).where(ContactAttempt.notification_id == notification_id)
        return (await self._session.scalars(query)).one_or_none()
