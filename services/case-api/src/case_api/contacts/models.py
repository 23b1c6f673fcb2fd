"""Contact attempts: every try to reach the household, reached or not (R4, R5)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import EnumText, UTCDateTime


class ContactChannel(StrEnum):
    letter = "letter"
    phone = "phone"
    sms = "sms"
    email = "email"
    home_visit = "home_visit"


class PartOfDay(StrEnum):
    morning = "morning"
    afternoon = "afternoon"
    evening = "evening"


class ContactAttempt(Base):
    __tablename__ = "contact_attempt"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    channel: Mapped[ContactChannel] = mapped_column(EnumText(ContactChannel, 20))
    reached: Mapped[bool] = mapped_column(Boolean)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    part_of_day: Mapped[PartOfDay] = mapped_column(EnumText(PartOfDay, 10))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    recorded_by: Mapped[str] = mapped_column(String(200))
    # A notifier message recorded as an attempt names its notification, so it is recorded once.
    notification_id: Mapped[str | None] = mapped_column(String(36), default=None, unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
