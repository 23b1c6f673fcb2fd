"""What the partner registry's admin API takes and gives."""

import base64
import binascii
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl

from eviction_schemas.registry import EVENT_NAMES
from partner_gateway.partners.models import PartnerKind

WHSEC = r"^whsec_[A-Za-z0-9+/=]{32,}$"
# Standard Webhooks: a secret is 24 to 64 random bytes, base64 behind `whsec_`.
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64


def _webhook_secret(value: str) -> str:
    """Refused here (422 naming the field) what would fail every later sign or verify: not base64, too short."""
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the part after whsec_ is not valid base64") from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise ValueError(
            f"a secret is {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} random bytes (base64 after whsec_); this one is "
            f"{len(key)} bytes"
        )
    return value


# The value itself never goes into an error message (service_kit.errors leaves `input` out of invalid params).
WebhookSecret = Annotated[str, Field(pattern=WHSEC), AfterValidator(_webhook_secret)]


class PartnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$", examples=["woonfriesland"])
    name: str = Field(min_length=1, max_length=200)
    kind: PartnerKind
    outbound_secret: WebhookSecret = Field(description="Standard Webhooks secret that signs what we send")
    inbound_secret: WebhookSecret | None = Field(
        default=None,
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

    inbound_secret: WebhookSecret | None = Field(default=None, description="The partner's new inbound secret")
    outbound_secret: WebhookSecret | None = Field(default=None, description="The new outbound secret")


class SecretsRotated(BaseModel):
    """The current secrets after a rotation, to hand to the partner; the previous ones stay valid until
    `previous_valid_until`."""

    partner_id: str
    inbound_secret: str
    outbound_secret: str
    previous_valid_until: datetime
