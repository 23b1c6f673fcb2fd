"""Partners (housing corporations, bailiffs, MEE Noord, utilities) and what they subscribe to."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from partner_gateway.db import Base
from partner_gateway.partners.secrets import SealedSecret
from service_kit.db import EnumText, UTCDateTime


class PartnerKind(StrEnum):
    housing_corporation = "housing_corporation"
    bailiff = "bailiff"
    client_support = "client_support"
    utility = "utility"


class Partner(Base):
    __tablename__ = "partner"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[PartnerKind] = mapped_column(EnumText(PartnerKind, 30))
    # Every secret below is a Standard Webhooks secret (whsec_...), stored encrypted (partners/secrets.py): shared
    # HMAC keys the gateway must read back, so they cannot be hashed.
    # The secret that signs what we send to this partner.
    outbound_secret: Mapped[str] = mapped_column(SealedSecret("outbound_secret"))
    # During a rotation deliveries carry a second signature with the previous secret until this time.
    previous_outbound_secret: Mapped[str | None] = mapped_column(SealedSecret("previous_outbound_secret"), default=None)
    previous_outbound_secret_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The secret the partner signs its messages to us with. None: the partner cannot send.
    inbound_secret: Mapped[str | None] = mapped_column(SealedSecret("inbound_secret"), default=None)
    # During a rotation the previous secret stays valid until previous_inbound_secret_valid_until.
    previous_inbound_secret: Mapped[str | None] = mapped_column(SealedSecret("previous_inbound_secret"), default=None)
    previous_inbound_secret_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The area team whose cases this partner's arrears signals open; None: the gateway's default_team.
    team: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def inbound_secrets(self, now: datetime) -> list[str]:
        """The secrets a message of this partner may be signed with at `now`: current, then previous in grace."""
        secrets = [self.inbound_secret] if self.inbound_secret else []
        valid_until = self.previous_inbound_secret_valid_until
        if self.previous_inbound_secret and valid_until is not None and now < valid_until:
            secrets.append(self.previous_inbound_secret)
        return secrets

    def outbound_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery is signed with at `now`: current, then previous in grace (both signatures)."""
        secrets = [self.outbound_secret]
        valid_until = self.previous_outbound_secret_valid_until
        if self.previous_outbound_secret and valid_until is not None and now < valid_until:
            secrets.append(self.previous_outbound_secret)
        return secrets


class Subscription(Base):
    __tablename__ = "subscription"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partner.id"), index=True)
    event_types: Mapped[list[str]] = mapped_column(JSON)
    callback_url: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
