"""REST endpoint for the notifier's read of a household: parse, call one service function, return."""

from fastapi import APIRouter

from case_api.deps import NotifierContext
from case_api.notification_contact import service
from case_api.notification_contact.schemas import NotificationContact
from service_kit.errors import Problem

router = APIRouter(prefix="/v1", tags=["notifier"])


@router.get(
    "/cases/{case_id}/notification-contact",
    response_model=NotificationContact,
    responses={
        403: {"model": Problem, "description": "Not the notifier's service role (or admin)."},
        404: {"model": Problem, "description": "No such case."},
        410: {"model": Problem, "description": "The case's personal data was erased (R18)."},
    },
)
async def read_notification_contact(case_id: str, ctx: NotifierContext) -> NotificationContact:
    """For the notifier at send time: how to reach the household and what a message may name (logged, R17)."""
    return await service.read_notification_contact(ctx, case_id=case_id)
