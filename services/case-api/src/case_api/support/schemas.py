"""What the REST surface takes and gives for support trajectories."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from case_api.support.models import SupportKind


class SupportStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SupportKind
    started_on: date | None = Field(default=None, description="The date the support started; today when left out.")


class SupportEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ended_on: date | None = Field(default=None, description="The date the support ended; today when left out.")
    end_reason: str = Field(min_length=1, max_length=4000, examples=["debt arrangement completed"])


class SupportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    kind: SupportKind
    started_on: date
    ended_on: date | None
    end_reason: str | None
    active: bool = Field(description="Not ended: counts for the conditions of temporary housing (R13).")
    recorded_by: str
    recorded_at: datetime


class SupportList(BaseModel):
    items: list[SupportRead]
