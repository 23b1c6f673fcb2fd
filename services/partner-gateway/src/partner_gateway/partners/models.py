"""Partners (housing corporations, bailiffs, MEE Noord, utilities) and what they subscribe to."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from partner_gateway.db import Base
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
    # Standard Webhooks secret (whsec_...) that signs what we send to this partner.
    outbound_secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Subscription(Base):
    __tablename__ = "subscription"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partner.id"), index=True)
    event_types: Mapped[list[str]] = mapped_column(JSON)
    callback_url: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
