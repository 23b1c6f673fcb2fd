"""What the notifier's REST surface takes and gives."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from notifier.notifications.models import Moment, PlanStatus, Status


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    status: Status
    reason: str | None
    provider_reference: str | None
    at: datetime


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    moment: Moment
    occasion: str
    channel: str
    language: str
    status: Status
    attempts: int
    due_at: datetime
    address_kind: str | None = Field(description="Which address the channel used (never the address itself).")
    template_version: str | None
    reason: str | None
    fallback_of: str | None
    resend_of: str | None
    requested_by: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    history: list[AttemptRead] = []


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    moment: Moment
    occasion: str
    language: str
    reasons: list[dict[str, Any]]
    decided_at: datetime


class PlannedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    moment: Moment
    occasion: str
    due_at: datetime
    status: PlanStatus
    reason: str | None


class NotificationList(BaseModel):
    items: list[NotificationRead]
    decisions: list[DecisionRead] = []
    planned: list[PlannedRead] = []


class ResendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500, description="Why the message is sent again; recorded.")
