"""What the notifier's REST surface gives."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from notifier.notifications.models import Moment, Status


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    moment: Moment
    channel: str
    language: str
    status: Status
    attempts: int
    created_at: datetime
    sent_at: datetime | None


class NotificationList(BaseModel):
    items: list[NotificationRead]
