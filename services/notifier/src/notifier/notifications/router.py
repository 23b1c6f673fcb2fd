"""REST endpoints for caseworkers: the notifications of a case."""

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db import get_session
from notifier.notifications.repository import NotificationRepository
from notifier.notifications.schemas import NotificationList, NotificationRead

router = APIRouter(prefix="/v1", tags=["notifications"])


@router.get("/cases/{case_id}/notifications", response_model=NotificationList)
async def list_case_notifications(
    case_id: str, session: Annotated[AsyncSession, Depends(get_session)]
) -> NotificationList:
    """The notifications of one case with their statuses."""
    found = await NotificationRepository(session).for_case(case_id)
    return NotificationList(items=[NotificationRead.model_validate(n) for n in found])
