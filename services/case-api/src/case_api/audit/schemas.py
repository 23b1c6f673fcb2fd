"""What the REST surface gives for the processing log (R17)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from case_api.audit.models import Operation


class ProcessingLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    actor_roles: str = Field(description="The caller's roles, comma-separated.")
    activity: str = Field(description="The processing activity, e.g. case-file, case-timeline, retention.")
    operation: Operation
    case_id: str | None
    trace_id: str | None = Field(description="The W3C trace id of the request's traceparent.")


class ProcessingLogPage(BaseModel):
    items: list[ProcessingLogRead]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page.")
