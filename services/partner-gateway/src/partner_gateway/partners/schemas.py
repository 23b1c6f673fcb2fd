"""What the partner registry's admin API takes and gives."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from eviction_schemas.registry import EVENT_NAMES
from partner_gateway.partners.models import PartnerKind


class PartnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$", examples=["woonfriesland"])
    name: str = Field(min_length=1, max_length=200)
    kind: PartnerKind
    outbound_secret: str = Field(pattern=r"^whsec_[A-Za-z0-9+/=]{24,}$", description="Standard Webhooks secret")


class PartnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: PartnerKind
    created_at: datetime


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_types: list[str] = Field(min_length=1, examples=[["case.opened"]])
    callback_url: HttpUrl

    def unknown_event_types(self) -> list[str]:
        return [name for name in self.event_types if name not in EVENT_NAMES]


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    partner_id: str
    event_types: list[str]
    callback_url: str
    active: bool
