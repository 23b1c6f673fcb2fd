"""What the REST surface takes and gives for tasks."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from case_api.tasks.models import AssigneeRole, TaskKind, TaskStatus


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    kind: TaskKind
    purpose: str = Field(description="What the task is tied to; unique per case (e.g. eviction_assessment:2026-04-20).")
    rule: str = Field(description="The rule of spec/domain.md that asks for it (R4-R7, R10, R14).")
    due_date: date
    assignee_role: AssigneeRole
    status: TaskStatus
    escalation_level: int = Field(description="0: not escalated; each escalation to the team lead adds one.")
    escalated_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None


class TaskList(BaseModel):
    items: list[TaskRead]
    total: int
    limit: int
    offset: int
