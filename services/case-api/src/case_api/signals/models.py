"""Arrears signals (R1): from landlords, energy and water companies and health insurers."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import EnumText, UTCDateTime


class PartnerKind(StrEnum):
    housing_corporation = "housing_corporation"
    bailiff = "bailiff"
    client_support = "client_support"
    utility = "utility"


class SignalResolution(StrEnum):
    """Why a signal no longer stands: its partner reported the arrears cleared."""

    arrears_cleared = "arrears_cleared"


class Signal(Base):
    __tablename__ = "signal"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("household.id"), index=True)
    address_key: Mapped[str] = mapped_column(String(30), index=True)
    partner_kind: Mapped[PartnerKind] = mapped_column(EnumText(PartnerKind, 30))
    partner_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    partner_reference: Mapped[str | None] = mapped_column(String(100), default=None)
    # The amount stays in case-api: never in an event, never to another partner (R1, R16).
    # Nullable only for erasure (R18): every signal arrives with an amount (SignalIn).
    arrears_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    arrears_since: Mapped[date] = mapped_column(Date)
    signal_date: Mapped[date] = mapped_column(Date, index=True)
    crisis: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # R3: the signal's partner may learn whether it was picked up, never why not.
    picked_up: Mapped[bool | None] = mapped_column(Boolean, default=None)
    not_picked_up_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # The partner reported the arrears cleared (arrears.cleared): the day, and why the signal no longer stands.
    resolved_on: Mapped[date | None] = mapped_column(Date, default=None)
    resolution: Mapped[SignalResolution | None] = mapped_column(EnumText(SignalResolution, 20), default=None)
