"""What the REST surface takes and gives for the legal track and the eviction."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from case_api.cases.models import Stage
from case_api.legal.models import CancellationReason, EvictionChange, LegalStepKind

# The court's case number as events carry it (common.schema.json#/$defs/court_reference).
COURT_REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*( [A-Za-z0-9._:/-]+)*$"
BAILIFF_REFERENCE = Field(default=None, min_length=1, max_length=100)


class LegalStepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: LegalStepKind
    occurred_on: date = Field(
        description="The day the eviction was requested, the summons served or the judgment given."
    )
    court_reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=COURT_REFERENCE_PATTERN,
        examples=["C/17/123456"],
        description="The court's case number: required for a summons or judgment, absent for an eviction request.",
    )
    hearing_date: date | None = Field(default=None, description="Summons only: the date of the court hearing.")
    eviction_granted: bool | None = Field(default=None, description="Judgment only: whether it allows the eviction.")


class LegalStepRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    kind: LegalStepKind
    occurred_on: date
    court_reference: str | None
    hearing_date: date | None
    eviction_granted: bool | None
    recorded_by: str
    recorded_at: datetime


class EvictionSchedule(BaseModel):
    """The bailiff served the eviction notice with a date (aanzegging)."""

    model_config = ConfigDict(extra="forbid")

    eviction_date: date
    served_on: date = Field(description="The day the bailiff served the notice.")
    bailiff_reference: str | None = BAILIFF_REFERENCE


class EvictionPostpone(BaseModel):
    """The bailiff moved the date (R7: served fewer than 3 days before the new date is accepted and flagged)."""

    model_config = ConfigDict(extra="forbid")

    eviction_date: date = Field(description="The new date.")
    served_on: date = Field(description="The day the bailiff served the new date.")
    bailiff_reference: str | None = BAILIFF_REFERENCE


class EvictionCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: CancellationReason


class EvictionAvert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: CancellationReason = Field(
        description="arrears_paid, payment_arrangement, debt_arrangement, second_chance_agreement or moratorium."
    )


class EvictionExecute(BaseModel):
    model_config = ConfigDict(extra="forbid")

    executed_on: date


class EvictionDateChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    change: EvictionChange
    eviction_date: date | None
    previous_eviction_date: date | None
    served_on: date | None
    late_notice: bool
    reason_code: CancellationReason | None
    bailiff_reference: str | None
    recorded_by: str
    recorded_at: datetime


class EvictionRead(BaseModel):
    case_id: str
    stage: Stage
    eviction_date: date | None = Field(description="The current eviction date; none when cancelled or never set.")
    late_notice: bool = Field(description="The current date was served later than the legal minimum (R7).")
    history: list[EvictionDateChangeRead] = Field(description="Every message about the date, oldest first.")
    allowed_actions: list[str]


class SecondChanceAgreementIn(BaseModel):
    """The corporation offered a second-chance agreement; with `signed_on` the household signed it. An agreement
    offered on the same day and not signed yet is the one a later signing completes."""

    model_config = ConfigDict(extra="forbid")

    offered_on: date = Field(description="The day the corporation offered it.")
    signed_on: date | None = Field(default=None, description="The day the household signed it, once it did.")
    partner_id: str | None = Field(default=None, min_length=1, max_length=64, description="The corporation.")


class SecondChanceAgreementRead(BaseModel):
    id: str
    case_id: str
    offered_on: date
    signed_on: date | None
    partner_id: str | None
    recorded_by: str
    recorded_at: datetime
    stage: Stage = Field(description="The case's stage afterwards: averted when the signing averted the eviction.")
    eviction_averted: bool = Field(description="This signing averted a threatened or scheduled eviction.")
