"""What the REST surface takes and gives for temporary housing (R13) and the rehousing outcome (R11)."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from case_api.cases.models import RehousingOutcome


class Condition(StrEnum):
    """R13's two conditions of eligibility."""

    debt_arrangement = "debt_arrangement"
    financial_guidance = "financial_guidance"


class MissingCondition(BaseModel):
    condition: Condition
    explanation: str


class Eligibility(BaseModel):
    """R13: eligible only with a debt arrangement in place and financial guidance active; what is missing."""

    case_id: str
    eligible: bool
    debt_arrangement_in_place: bool
    financial_guidance_active: bool
    missing: list[MissingCondition]


class TemporaryHousingDecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    granted: bool
    override_reason: str | None = Field(
        default=None,
        max_length=4000,
        description="Granting although a condition is missing: a team lead's recorded reason (R13).",
    )
    refusal_reason: str | None = Field(default=None, max_length=4000, description="Required when not granted.")
    rehousing_outcome: RehousingOutcome | None = Field(
        default=None,
        description="When not granted: own_solution or refused_with_reason (the default); R11 needs it.",
    )


class TemporaryHousingDecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    granted: bool
    debt_arrangement_in_place: bool
    financial_guidance_active: bool
    override_reason: str | None
    refusal_reason: str | None
    rehousing_outcome: RehousingOutcome
    decided_by: str
    decided_at: datetime


class TemporaryHousingDecisionList(BaseModel):
    items: list[TemporaryHousingDecisionRead]
