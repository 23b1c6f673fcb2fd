"""What the REST surface takes and gives for partner feedback (R3)."""

from datetime import date
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PickupDecision(BaseModel):
    """A caseworker's answer to "was this signal picked up?"; the reason stays in case-api (R3)."""

    model_config = ConfigDict(extra="forbid")

    picked_up: bool
    reason: str | None = Field(
        default=None, max_length=2000, description="Why not: personal, never shown to the partner (R3)."
    )

    @model_validator(mode="after")
    def _reason_only_when_not_picked_up(self) -> Self:
        if self.picked_up and self.reason is not None:
            raise ValueError("reason explains a signal that was not picked up; leave it out when picked_up is true")
        return self


class PickupRead(BaseModel):
    signal_id: str
    case_id: str
    picked_up: bool
    reason: str | None


class PartnerSignalFeedback(BaseModel):
    """What a signal partner may learn: whether its signal was picked up, never why not (R3)."""

    model_config = ConfigDict(extra="forbid")

    signal_id: str
    reference: str | None = Field(description="The partner's own reference it sent with the signal.")
    signal_date: date | None
    picked_up: bool | None = Field(description="null while nobody decided yet.")


class PartnerFeedbackPage(BaseModel):
    partner_id: str
    items: list[PartnerSignalFeedback]
    next_after: str | None = Field(description="Pass as `after` for the next page; null on the last page.")
