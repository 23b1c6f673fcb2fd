"""What the REST surface takes and gives for child-rights assessments and the R11 report."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from case_api.cases.models import Priority, RehousingOutcome, Stage


class ChildAssessmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    children_situation: str = Field(min_length=1, max_length=8000, description="The children's situation.")
    children_heard: bool = Field(description="Whether the children were heard in a way that fits their age.")
    how_heard: str | None = Field(
        default=None, max_length=4000, description="How they were heard; or why not, when they were not."
    )
    sleeping_place_after_eviction: str | None = Field(
        default=None, max_length=4000, description="Where the children will sleep after the eviction (text)."
    )
    completed: bool = Field(description="The assessment is complete; R10's escalations stop only then.")


class ChildAssessmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    children_situation: str
    children_heard: bool
    how_heard: str | None
    sleeping_place_after_eviction: str | None
    completed: bool
    recorded_by: str
    recorded_at: datetime


class ChildAssessmentList(BaseModel):
    items: list[ChildAssessmentRead]


class FamilyWithoutRehousing(BaseModel):
    """A case with minors facing or past an eviction without a recorded rehousing outcome (R11)."""

    model_config = ConfigDict(from_attributes=True)

    case_id: str = Field(validation_alias="id")
    team: str
    stage: Stage
    priority: Priority
    eviction_date: date | None
    rehousing_outcome: RehousingOutcome | None


class FamiliesWithoutRehousingReport(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[FamilyWithoutRehousing]
