"""The notifier's tables: what it knows of a case (from events only), the moments it has planned, the
notifications it made of them, every attempt to deliver one, and the reasons each channel was chosen or not.

Nothing here names or addresses a person: names and addresses are read from case-api at send time
(docs/adr/0009-notifier-moments-channels-delivery.md).
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text, UniqueConstraint
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


# A notification in one of these waits for the dispatcher (temporary failures until their retry is due).
WAITING = (Status.requested, Status.temporary_failure)
FINAL = frozenset({Status.sent, Status.delivered, Status.permanent_failure, Status.cancelled})


class CaseState(Base):
    """What the notifier knows of a case, from its events alone: enough to plan moments and apply team rules."""

    __tablename__ = "case_state"

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    team: Mapped[str | None] = mapped_column(String(60), default=None)
    eviction_date: Mapped[date | None] = mapped_column(Date, default=None)
    evicted_on: Mapped[date | None] = mapped_column(Date, default=None)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlanStatus(StrEnum):
    pending = "pending"
    fired = "fired"
    cancelled = "cancelled"


class PlannedMoment(Base):
    """A moment due at an instant: fired by the dispatcher when due, cancelled when it no longer applies."""

    __tablename__ = "planned_moment"
    __table_args__ = (
        UniqueConstraint("case_id", "moment", "occasion"),
        Index("ix_planned_moment_due", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    moment: Mapped[Moment] = mapped_column(EnumText(Moment, 4))
    # Tells repeats of one moment apart: "T-7:2026-04-14" for a countdown reminder of one eviction date, the
    # eviction date for M4; "" for a moment that happens once per case.
    occasion: Mapped[str] = mapped_column(String(40), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[PlanStatus] = mapped_column(EnumText(PlanStatus, 10))
    caused_by_event: Mapped[str] = mapped_column(String(36))
    # Facts of the event the message may name (an eviction date, days before it); never personal data.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)


class Notification(Base):
    """One message of one moment to one household on one channel."""

    __tablename__ = "notification"
    # Never the same moment twice to the same household on the same channel.
    __table_args__ = (
        UniqueConstraint("case_id", "moment", "occasion", "channel"),
        Index("ix_notification_due", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    moment: Mapped[Moment] = mapped_column(EnumText(Moment, 4))
    occasion: Mapped[str] = mapped_column(String(80), default="")
    channel: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5))
    status: Mapped[Status] = mapped_column(EnumText(Status, 20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    caused_by_event: Mapped[str] = mapped_column(String(36))
    # Not before: the moment's instant, the end of the quiet hours for an SMS, or the next retry.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Which of the household's addresses the channel used (home, mail_address, email, mobile, case): never the
    # address itself.
    address_kind: Mapped[str | None] = mapped_column(String(20), default=None)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The version of the template file the message was rendered from (templates/<moment>/<channel>.<lang>.j2).
    template_version: Mapped[str | None] = mapped_column(String(40), default=None)
    provider_reference: Mapped[str | None] = mapped_column(String(200), default=None)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    # A fallback names the notification whose permanent failure caused it; a resend names the one it repeats.
    fallback_of: Mapped[str | None] = mapped_column(String(36), default=None)
    resend_of: Mapped[str | None] = mapped_column(String(36), default=None)
    requested_by: Mapped[str] = mapped_column(String(200), default="notifier")
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class DeliveryAttempt(Base):
    """Every status a notification went through, with when and why: the proof that a household was informed."""

    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(String(36), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    status: Mapped[Status] = mapped_column(EnumText(Status, 20))
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    provider_reference: Mapped[str | None] = mapped_column(String(200), default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelDecision(Base):
    """Why a fired moment went out on the channels it did: one row per moment and occasion of a case."""

    __tablename__ = "channel_decision"
    __table_args__ = (UniqueConstraint("case_id", "moment", "occasion"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    moment: Mapped[Moment] = mapped_column(EnumText(Moment, 4))
    occasion: Mapped[str] = mapped_column(String(80), default="")
    language: Mapped[str] = mapped_column(String(5))
    # [{"channel": "sms", "chosen": false, "reason": "no valid mobile number"}, ...]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text, default=None)
