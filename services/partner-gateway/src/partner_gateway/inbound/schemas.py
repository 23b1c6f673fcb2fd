"""What the inbound endpoints give (the body they take is checked against inbound/schemas/*.json)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from partner_gateway.inbound.models import InboundStatus


class MessageAccepted(BaseModel):
    message_id: str = Field(description="Where to read the outcome: GET /v1/partners/{partner_id}/messages/{id}")


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str
    reference: str
    occurred_at: datetime
    status: InboundStatus = Field(
        description="received (waiting for case-api, retried), processed, failed (the gateway cannot forward it, "
        "e.g. an unknown reference) or rejected (case-api refused it; outcome says why)"
    )
    attempts: int
    next_attempt_at: datetime | None = Field(description="When the next attempt is due; only while received.")
    outcome: dict[str, Any] | None = Field(description="case_id and what case-api answered, or why it failed.")
    created_at: datetime
    processed_at: datetime | None
