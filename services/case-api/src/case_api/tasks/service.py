"""Tasks: what someone must do by when (R4-R7, R10, R14). Created once per case and purpose, escalated to the
team lead when late, completed by hand or when their fact is recorded, cancelled when they no longer apply.

Cancelling writes no event: the catalogue (contract.md) has task.created, task.overdue and task.completed, and
task.completed would tell consumers that something was done when it was not. A cancelled task keeps its row
(status `cancelled`), so the case's task list shows it; the change that made it moot (eviction.postponed,
eviction.cancelled, eviction.executed, case.closed) is on the topic already.
"""

import uuid
from dataclasses import dataclass
from datetime import date

from case_api.audit.models import Operation
from case_api.cases.models import Case, Stage
from case_api.cases.service import CASE_FILE, INFORMING_HOUSEHOLD, load_case
from case_api.context import Context
from case_api.deadlines.rules import RULE_KINDS, DesiredTask, Norms, desired_tasks
from case_api.errors import Gone
from case_api.events import emit
from case_api.tasks.models import AssigneeRole, Task, TaskKind, TaskStatus
from case_api.tasks.repository import TaskRepository
from case_api.tasks.schemas import NotificationTaskCreate, TaskList, TaskRead
from service_kit.errors import Conflict, Forbidden, NotFound

ESCALATED_TO = AssigneeRole.team_lead


@dataclass
class TaskChanges:
    """What one recomputation (or one worker run) changed."""

    created: int = 0
    escalated: int = 0
    completed: int = 0
    cancelled: int = 0

    def __iadd__(self, other: "TaskChanges") -> "TaskChanges":
        self.created += other.created
        self.escalated += other.escalated
        self.completed += other.completed
        self.cancelled += other.cancelled
        return self

    @property
    def any(self) -> bool:
        return bool(self.created or self.escalated or self.completed or self.cancelled)


async def ensure_task(
    ctx: Context,
    *,
    case: Case,
    kind: TaskKind,
    purpose: str,
    rule: str,
    due_date: date,
    assignee_role: AssigneeRole,
    reason: str | None = None,
) -> Task:
    """The case's task for `purpose`, created (with task.created) when it does not exist yet. The case is locked."""
    for existing in await TaskRepository(ctx.session).of_case(case.id):
        if existing.purpose == purpose:
            return existing
    return await _create(
        ctx, case=case, kind=kind, purpose=purpose, rule=rule, due_date=due_date, role=assignee_role, reason=reason
    )


async def _create(
    ctx: Context,
    *,
    case: Case,
    kind: TaskKind,
    purpose: str,
    rule: str,
    due_date: date,
    role: AssigneeRole,
    reason: str | None = None,
) -> Task:
    task = Task(
        id=str(uuid.uuid4()),
        case_id=case.id,
        kind=kind,
        purpose=purpose,
        rule=rule,
        due_date=due_date,
        assignee_role=role,
        status=TaskStatus.open,
        escalation_level=0,
        created_at=ctx.clock.now(),
        reason=reason,
    )
    TaskRepository(ctx.session).add(task)
    await ctx.session.flush()  # the unique (case, purpose) refuses a second one here, not at commit
    emit(
        ctx,
        case=case,
        event="task.created",
        data={
            "task_id": task.id,
            "task_kind": task.kind.value,
            "due_date": task.due_date.isoformat(),
            "assignee_role": task.assignee_role.value,
        },
    )
    return task


def _finish(ctx: Context, *, case: Case, task: Task) -> None:
    task.status = TaskStatus.completed
    task.completed_at = ctx.clock.now()
    task.completed_by = ctx.principal.subject
    emit(
        ctx,
        case=case,
        event="task.completed",
        data={"task_id": task.id, "task_kind": task.kind.value, "completed_on": ctx.today().isoformat()},
    )


def escalate(ctx: Context, *, case: Case, task: Task, level: int) -> bool:
    """Raise an open task to escalation `level` with one task.overdue; False when it is there already."""
    if task.status is not TaskStatus.open or level <= task.escalation_level:
        return False
    task.escalation_level = level
    task.escalated_at = ctx.clock.now()
    emit(
        ctx,
        case=case,
        event="task.overdue",
        data={
            "task_id": task.id,
            "task_kind": task.kind.value,
            "due_date": task.due_date.isoformat(),
            "assignee_role": task.assignee_role.value,
            "escalated_to": ESCALATED_TO.value,
        },
    )
    return True


def cancel(ctx: Context, *, task: Task) -> bool:
    """An open task that no longer applies; no event (see the module docstring)."""
    if task.status is not TaskStatus.open:
        return False
    task.status = TaskStatus.cancelled
    task.completed_at = ctx.clock.now()
    task.completed_by = ctx.principal.subject
    return True


async def recompute_tasks(ctx: Context, *, case: Case) -> TaskChanges:
    """Bring the case's tasks in line with the deadline rules on today's date. The caller holds the case locked."""
    await ctx.session.flush()  # facts written earlier in this transaction count
    repository = TaskRepository(ctx.session)
    facts = await repository.facts(case, ctx.calendar)
    today = ctx.today()
    wanted = desired_tasks(facts, today=today, calendar=ctx.calendar, norms=Norms.from_settings(ctx.settings))
    existing = {task.purpose: task for task in await repository.of_case(case.id)}
    changes = TaskChanges()
    for desired in wanted:
        task = existing.get(desired.purpose)
        if task is None:
            if desired.satisfied or not desired.create:
                continue
            task = await _create_desired(ctx, case=case, desired=desired)
            changes.created += 1
        if task.status is not TaskStatus.open:
            continue
        if desired.satisfied:
            _finish(ctx, case=case, task=task)
            changes.completed += 1
        elif escalate(ctx, case=case, task=task, level=desired.escalation_level(today)):
            changes.escalated += 1
    purposes = {desired.purpose for desired in wanted}
    for task in existing.values():
        moot = task.purpose not in purposes and (task.kind in RULE_KINDS or case.stage is Stage.closed)
        if moot and cancel(ctx, task=task):
            changes.cancelled += 1
    if changes.any:
        ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
        await ctx.session.flush()
    return changes


async def _create_desired(ctx: Context, *, case: Case, desired: DesiredTask) -> Task:
    return await _create(
        ctx,
        case=case,
        kind=desired.kind,
        purpose=desired.purpose,
        rule=desired.rule,
        due_date=desired.due_date,
        role=desired.assignee_role,
    )


def notification_purpose(notification_id: str) -> str:
    """The purpose of the task that stands for one notification: what makes a repeated request find it."""
    return f"notification:{notification_id}"


async def create_notification_task(ctx: Context, *, case_id: str, request: NotificationTaskCreate) -> tuple[Task, bool]:
    """The notifier's human channel: a caseworker visits or calls the household, due the next working day,
    assigned to the outreach workers. One task per notification: a repeat gets the task created first (and
    False); the same notification with another kind or moment is 409. A closed case gets no new task (409)."""
    case = await load_case(ctx, case_id, for_update=True)
    if case.erased_at is not None:
        raise Gone(f"the personal data of case {case_id} was erased (R18)", field="case_id")
    purpose = notification_purpose(str(request.notification_id))
    kind, rule = TaskKind(request.kind.value), request.moment
    existing = await TaskRepository(ctx.session).for_purpose(case.id, purpose)
    if existing is not None:
        if (existing.kind, existing.rule) != (kind, rule):
            raise Conflict(
                f"notification {request.notification_id} already has a {existing.kind.value} task for moment "
                f"{existing.rule}",
                field="notification_id",
                task_id=existing.id,
            )
        return existing, False
    if case.stage is Stage.closed:
        raise Conflict("the case is closed: no caseworker visits or calls any more", field="case_id")
    task = await _create(
        ctx,
        case=case,
        kind=kind,
        purpose=purpose,
        rule=rule,
        due_date=ctx.calendar.add_working_days(ctx.today(), 1),
        role=AssigneeRole.outreach_worker,
        reason=request.reason,
    )
    ctx.log_processing(activity=INFORMING_HOUSEHOLD, case_id=case.id, operation=Operation.write)
    return task, True


async def complete_task(ctx: Context, *, task_id: str) -> Task:
    """Complete an open task by hand (409 when it is completed or cancelled already)."""
    task = await TaskRepository(ctx.session).get(task_id)
    if task is None:
        raise NotFound(f"no task {task_id} that you may see", field="task_id")
    case = await load_case(ctx, task.case_id, for_update=True)  # another team's task is not found either
    await ctx.session.refresh(task)  # its state under the case's lock
    if task.status is not TaskStatus.open:
        raise Conflict(f"the task is {task.status.value} already", field="task_id", status_of_task=task.status.value)
    _finish(ctx, case=case, task=task)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    await ctx.session.flush()
    return task


async def list_case_tasks(ctx: Context, *, case_id: str) -> list[TaskRead]:
    case = await load_case(ctx, case_id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return [TaskRead.model_validate(task) for task in await TaskRepository(ctx.session).of_case(case.id)]


async def list_tasks(
    ctx: Context, *, team: str | None, status: TaskStatus | None, overdue: bool, limit: int, offset: int
) -> TaskList:
    """Tasks of the caller's team (every team, or the one asked for, for roles that see all teams)."""
    if not ctx.principal.sees_all_teams:
        if team is not None and team != ctx.principal.team:
            raise Forbidden(f"you may see the tasks of team {ctx.principal.team} only", field="team")
        team = ctx.principal.team
    rows, total = await TaskRepository(ctx.session).page(
        team=team, status=status, overdue_on=ctx.today() if overdue else None, limit=limit, offset=offset
    )
    return TaskList(items=[TaskRead.model_validate(task) for task in rows], total=total, limit=limit, offset=offset)
