"""A notification: one message of one moment to one household on one channel."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from notifier.db import Base
from service_kit.db import EnumText, UTCDateTime


class Moment(StrEnum):
    """The moments of spec/notifications.md."""

    signal = "M1"
    no_contact = "M2"
    threat = "M3"
    date_set = "M4"
    countdown = "M5"
    averted = "M6"
    evicted = "M7"
    belongings = "M8"
    housing_decision = "M9"


class Status(StrEnum):
    requested = "requested"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    temporary_failure = "temporary_failure"
    permanent_failure = "permanent_failure"
    cancelled = "cancelled"


class Notification(Base):
    __tablename__ = "notification"
    # Never the same moment twice to the same household on the same channel.
    __table_args__ = (UniqueConstraint("case_id", "moment", "occasion", "channel"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    moment: Mapped[Moment] = mapped_column(EnumText(Moment, 4))
    # Distinguishes repeats of one moment that are meant to be repeated (T-14/T-7/T-2); "" otherwise.
    occasion: Mapped[str] = mapped_column(String(40), default="")
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5))
    status: Mapped[Status] = mapped_column(EnumText(Status, 20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    caused_by_event: Mapped[str] = mapped_column(String(36))
    # The version of the template file the message was rendered from (templates/<moment>/<channel>.<lang>.j2).
    template_version: Mapped[str | None] = mapped_column(String(40), default=None)
    provider_reference: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
