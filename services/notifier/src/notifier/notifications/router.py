"""REST endpoints for caseworkers: the notifications of a case with their statuses, and a resend with a reason.

The same tokens and team rules as case-api: a caseworker sees the cases of their own area team, admin sees all;
the team of a case is the one its case.opened event named."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from notifier.db import SessionDep
from notifier.notifications import service
from notifier.notifications.lifecycle import Policy
from notifier.notifications.models import CaseState
from notifier.notifications.repository import NotificationRepository
from notifier.notifications.schemas import (
    AttemptRead,
    DecisionRead,
    NotificationList,
    NotificationRead,
    PlannedRead,
    ResendIn,
)
from service_kit.auth import Principal, Role, require_roles
from service_kit.errors import Forbidden, NotFound

router = APIRouter(prefix="/v1", tags=["notifications"])

READERS = require_roles(Role.outreach_worker, Role.debt_counsellor, Role.team_lead, Role.admin)
RESENDERS = require_roles(Role.outreach_worker, Role.team_lead, Role.admin)


def check_team(principal: Principal, state: CaseState | None, case_id: str) -> None:
    if state is None:
        raise NotFound(f"the notifier knows no case {case_id}")
    if not principal.can_access_team(state.team or ""):
        raise Forbidden("this case belongs to another area team")


@router.get("/cases/{case_id}/notifications", response_model=NotificationList)
async def list_case_notifications(
    case_id: str, session: SessionDep, principal: Annotated[Principal, Depends(READERS)]
) -> NotificationList:
    """The notifications of one case with their statuses and attempts, why each channel was chosen or not, and
    the moments still planned."""
    repository = NotificationRepository(session)
    check_team(principal, await repository.case_state(case_id), case_id)
    found = await repository.for_case(case_id)
    attempts = await repository.attempts_of([n.id for n in found])
    history: dict[str, list[AttemptRead]] = {}
    for attempt in attempts:
        history.setdefault(attempt.notification_id, []).append(AttemptRead.model_validate(attempt))
    items = []
    for notification in found:
        read = NotificationRead.model_validate(notification)
        read.history = history.get(notification.id, [])
        items.append(read)
    return NotificationList(
        items=items,
        decisions=[DecisionRead.model_validate(d) for d in await repository.decisions_for(case_id)],
        planned=[PlannedRead.model_validate(p) for p in await repository.planned_for_case(case_id)],
    )


@router.post(
    "/notifications/{notification_id}/resend", status_code=status.HTTP_201_CREATED, response_model=NotificationRead
)
async def resend_notification(
    notification_id: str,
    body: ResendIn,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(RESENDERS)],
) -> NotificationRead:
    """Send a message again on the same channel; the reason and who asked are recorded."""
    repository = NotificationRepository(session)
    original = await repository.get(notification_id)
    if original is None:
        raise NotFound(f"no notification {notification_id}")
    check_team(principal, await repository.case_state(original.case_id), original.case_id)
    settings = request.app.state.settings
    notification = await service.resend(
        session,
        original=original,
        reason=body.reason,
        principal=principal,
        now=request.app.state.clock.now(),
        policy=Policy.from_settings(settings),
    )
    await session.flush()
    return NotificationRead.model_validate(notification)
