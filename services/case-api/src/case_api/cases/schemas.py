"""What the REST surface takes and gives for cases."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from case_api.cases.models import OpenedBy, Priority, Stage


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$", examples=["team-noord"])
    opened_by: OpenedBy = OpenedBy.staff
    has_minors: bool = False


class CaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    household_id: str
    team: str
    stage: Stage
    priority: Priority
    has_minors: bool
    opened_by: OpenedBy
    opened_at: datetime
