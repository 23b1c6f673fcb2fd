"""REST endpoints for tasks: parse, call one service function, return."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from case_api.deps import CaseContext, NotifierContext
from case_api.tasks import service
from case_api.tasks.models import TaskStatus
from case_api.tasks.schemas import NotificationTaskCreate, TaskList, TaskRead
from service_kit.errors import Problem
from service_kit.paging import MAX_OFFSET

router = APIRouter(prefix="/v1", tags=["tasks"])


@router.get("/cases/{case_id}/tasks", response_model=list[TaskRead])
async def list_case_tasks(case_id: str, ctx: CaseContext) -> list[TaskRead]:
    """Every task of the case (open, completed and cancelled), by due date."""
    return await service.list_case_tasks(ctx, case_id=case_id)


@router.post(
    "/cases/{case_id}/tasks",
    response_model=TaskRead,
    status_code=status.HTTP_201_CREATED,
    tags=["notifier"],
    responses={
        200: {"model": TaskRead, "description": "The task of this notification exists already: it is answered."},
        403: {"model": Problem, "description": "Not the notifier's service role (or admin)."},
        404: {"model": Problem, "description": "No such case."},
        409: {"model": Problem, "description": "The case is closed, or the notification has another task."},
        410: {"model": Problem, "description": "The case's personal data was erased (R18)."},
    },
)
async def create_notification_task(
    case_id: str, body: NotificationTaskCreate, ctx: NotifierContext, response: Response
) -> TaskRead:
    """For the notifier: a caseworker task to visit or call the household, one per notification; task.created."""
    task, created = await service.create_notification_task(ctx, case_id=case_id, request=body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return TaskRead.model_validate(task)


@router.get("/tasks", response_model=TaskList)
async def list_tasks(
    ctx: CaseContext,
    team: Annotated[str | None, Query(max_length=40, description="Default: your own team.")] = None,
    status: TaskStatus | None = None,
    overdue: Annotated[bool, Query(description="Only open tasks whose due date has passed.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> TaskList:
    """Tasks of a team, by due date, paginated; `overdue=true` for the escalation list."""
    return await service.list_tasks(ctx, team=team, status=status, overdue=overdue, limit=limit, offset=offset)


@router.post("/tasks/{task_id}/complete", response_model=TaskRead)
async def complete_task(task_id: str, ctx: CaseContext) -> TaskRead:
    """Mark an open task as done; publishes task.completed."""
    return TaskRead.model_validate(await service.complete_task(ctx, task_id=task_id))
