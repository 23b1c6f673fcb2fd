"""What the REST surface takes and gives for signals."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from case_api.households.schemas import MAX_MEMBERS, HouseholdIn
from case_api.signals.models import PartnerKind, SignalResolution
from case_api.tasks.schemas import TaskRead


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner_kind: PartnerKind
    partner_id: str | None = Field(default=None, max_length=64)
    partner_reference: str | None = Field(default=None, max_length=100)
    arrears_amount: Decimal = Field(ge=0, le=Decimal("1000000"), max_digits=12, decimal_places=2)
    arrears_since: date
    signal_date: date
    crisis: bool = Field(default=False, description="e.g. end of supply announced (R5: 3 working days)")

    @field_validator("signal_date")
    @classmethod
    def _arrears_before_signal(cls, signal_date: date, info: ValidationInfo) -> date:
        arrears_since = info.data.get("arrears_since")
        if arrears_since is not None and arrears_since > signal_date:
            raise ValueError("must not be before arrears_since (the date the arrears arose)")
        return signal_date


class ReportedComposition(BaseModel):
    """What a housing corporation knows of the household's composition: how many minors, or the birth year of
    each member. It counts towards has_minors while staff have not recorded the members (ADR 0013)."""

    model_config = ConfigDict(extra="forbid")

    minors_count: int | None = Field(default=None, ge=0, le=MAX_MEMBERS)
    birth_years: list[Annotated[int, Field(ge=1900, le=2100)]] | None = Field(
        default=None, min_length=1, max_length=MAX_MEMBERS, description="One a member, adults included."
    )

    @model_validator(mode="after")
    def _one_of(self) -> "ReportedComposition":
        if (self.minors_count is None) == (self.birth_years is None):
            raise ValueError("send either minors_count or birth_years")
        return self


class SignalReceive(BaseModel):
    """A signal with the household it is about: attaches to the household's open case or opens one (R2)."""

    model_config = ConfigDict(extra="forbid")

    team: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$", examples=["team-noord"])
    household: HouseholdIn
    signal: SignalIn
    composition: ReportedComposition | None = Field(
        default=None, description="A partner's household facts (minors count or birth years), when it knows them."
    )


class SignalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    partner_kind: PartnerKind
    partner_id: str | None
    partner_reference: str | None
    arrears_amount: Decimal | None = Field(description="null once erased (R18).")
    arrears_since: date
    signal_date: date
    crisis: bool
    received_at: datetime
    picked_up: bool | None
    resolved_on: date | None = Field(description="The day its partner reported the arrears cleared.")
    resolution: SignalResolution | None


class SignalReceipt(BaseModel):
    case_id: str
    signal_id: str
    case_opened: bool = Field(description="true when the signal opened a new case, false when it attached (R2)")
    consecutive: bool
    multiple: bool


class ArrearsCleared(BaseModel):
    """A partner reports that the arrears of its reference (a tenancy or contract) were cleared."""

    model_config = ConfigDict(extra="forbid")

    partner_id: str = Field(min_length=1, max_length=64)
    partner_reference: str = Field(min_length=1, max_length=100)
    cleared_on: date = Field(description="The day the arrears were paid.")


class ArrearsClearedReceipt(BaseModel):
    """What clearing the arrears did: the signals resolved and the case's outcome (ADR 0012)."""

    case_id: str
    resolved_signal_ids: list[str]
    signals_standing: int = Field(description="The case's signals that still stand (of other partners or references).")
    case_closed: bool = Field(
        description="true: nothing else ran (stage signalled, no signal standing): closed as "
        "paid_or_arranged_by_themselves"
    )
    task: TaskRead | None = Field(
        description="Otherwise, when no signal stands: the task to close the case with paid_or_arranged_by_themselves "
        "or to carry on"
    )
