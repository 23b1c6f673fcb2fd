"""A delivery: one event, minimised for one partner, on its way to one subscription's callback URL; and the facts
of a case that the partners who see their own cases only may know now (deliveries/facts.py)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from partner_gateway.db import Base
from service_kit.db import EnumText, UTCDateTime


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    gave_up = "gave_up"


class Delivery(Base):
    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_order", "subscription_id", "case_id", "sequence"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscription.id"))
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(120))
    sequence: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[DeliveryStatus] = mapped_column(EnumText(DeliveryStatus, 20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Attempts made before the current run of the retry schedule (a replay starts the schedule again).
    schedule_start: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the attempt answered 410 or was refused for good (4xx): why the delivery stopped.
    gave_up_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    # W3C trace context of the consumer's handling of the event: the webhook request continues that trace.
    traceparent: Mapped[str | None] = mapped_column(String(55), default=None)


class DeliveryAttempt(Base):
    """One HTTP attempt of a delivery: the delivery log a partner's support desk reads."""

    __tablename__ = "delivery_attempt"

    delivery_id: Mapped[str] = mapped_column(ForeignKey("delivery.id", ondelete="CASCADE"), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    duration_ms: Mapped[int] = mapped_column(Integer)


class CaseFactsRow(Base):
    """The latest minimised facts of one case (deliveries/facts.py: Facts), kept by the consumer from the case's
    events, so that a partner whose first message links it to the case later gets the case as it is now
    (ADR 0011). Nothing personal: booleans, opaque ids, dates and category codes."""

    __tablename__ = "case_facts"

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The case-api sequence of the last event applied; 0: no event of the case seen yet.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
