"""What the REST surface takes and gives for signals."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from case_api.households.schemas import HouseholdIn
from case_api.signals.models import PartnerKind


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


class SignalReceive(BaseModel):
    """A signal with the household it is about: attaches to the household's open case or opens one (R2)."""

    model_config = ConfigDict(extra="forbid")

    team: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$", examples=["team-noord"])
    household: HouseholdIn
    signal: SignalIn


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


class SignalReceipt(BaseModel):
    case_id: str
    signal_id: str
    case_opened: bool = Field(description="true when the signal opened a new case, false when it attached (R2)")
    consecutive: bool
    multiple: bool
