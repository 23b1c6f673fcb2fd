"""What the REST surface takes and gives for tasks."""

from datetime import date, datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from case_api.tasks.models import AssigneeRole, TaskKind, TaskStatus

# The moments of spec/notifications.md.
NotificationMoment = Literal["M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8", "M9"]


class NotificationTaskKind(StrEnum):
    """The human channel of the notifier: a caseworker visits or calls the household."""

    home_visit = "home_visit"
    call = "call"


class NotificationTaskCreate(BaseModel):
    """The notifier asks for a caseworker task; one per notification (a repeat answers the task created first)."""

    model_config = ConfigDict(extra="forbid")

    kind: NotificationTaskKind
    notification_id: UUID = Field(description="The notifier's notification this task stands for.")
    moment: NotificationMoment = Field(description="The moment of spec/notifications.md (M1-M9).")
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why a caseworker should visit or call, in a sentence; no debts or amounts.",
        examples=["M4: no written channel reaches the household; visit before the eviction date."],
    )


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    kind: TaskKind
    purpose: str = Field(description="What the task is tied to; unique per case (e.g. eviction_assessment:2026-04-20).")
    rule: str = Field(
        description="The rule of spec/domain.md that asks for it (R4-R7, R10, R14), or the notification moment "
        "(M1-M9) of a task the notifier asked for."
    )
    due_date: date
    assignee_role: AssigneeRole
    status: TaskStatus
    escalation_level: int = Field(description="0: not escalated; each escalation to the team lead adds one.")
    escalated_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    reason: str | None = Field(description="Why the task exists, when its creator said so (the notifier does).")


class TaskList(BaseModel):
    items: list[TaskRead]
    total: int
    limit: int
    offset: int
