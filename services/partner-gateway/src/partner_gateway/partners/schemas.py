"""What the partner registry's admin API takes and gives."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from eviction_schemas.registry import EVENT_NAMES
from partner_gateway.partners.models import PartnerKind

WHSEC = r"^whsec_[A-Za-z0-9+/=]{24,}$"


class PartnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$", examples=["woonfriesland"])
    name: str = Field(min_length=1, max_length=200)
    kind: PartnerKind
    outbound_secret: str = Field(pattern=WHSEC, description="Standard Webhooks secret that signs what we send")
    inbound_secret: str | None = Field(
        default=None,
        pattern=WHSEC,
        description="Standard Webhooks secret the partner signs its messages with; without it the partner cannot "
        "send messages",
    )
    team: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="The area team whose cases this partner's arrears signals open (default: the gateway's)",
    )


class PartnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: PartnerKind
    team: str | None
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


class SubscriptionList(BaseModel):
    items: list[SubscriptionRead]


class SecretRotation(BaseModel):
    """New secrets; a side left out gets a new secret made by the gateway (shown once, in the answer)."""

    model_config = ConfigDict(extra="forbid")

    inbound_secret: str | None = Field(default=None, pattern=WHSEC, description="The partner's new inbound secret")
    outbound_secret: str | None = Field(default=None, pattern=WHSEC, description="The new outbound secret")


class SecretsRotated(BaseModel):
    """The current secrets after a rotation, to hand to the partner; the previous ones stay valid until
    `previous_valid_until`."""

    partner_id: str
    inbound_secret: str
    outbound_secret: str
    previous_valid_until: datetime
