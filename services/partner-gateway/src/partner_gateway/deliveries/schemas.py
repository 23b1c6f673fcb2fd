"""What the delivery log's admin endpoints give."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from partner_gateway.deliveries.models import DeliveryStatus


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    subscription_id: str
    partner_id: str
    case_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    gave_up_reason: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
    total: int
    limit: int
    offset: int


class DeliveryAttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryAttemptList(BaseModel):
    items: list[DeliveryAttemptRead]
