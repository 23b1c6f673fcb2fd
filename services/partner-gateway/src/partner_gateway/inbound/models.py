"""A partner's inbound message as stored before it is answered, and the map of partners' references to cases."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from partner_gateway.db import Base
from service_kit.db import EnumText, UTCDateTime


class InboundStatus(StrEnum):
    # Stored and waiting for (another) attempt to forward it to case-api. A worker claims a message with a row
    # lock (FOR UPDATE SKIP LOCKED) for the length of one attempt, so no "processing" state can be left behind
    # by a worker that died.
    received = "received"
    processed = "processed"  # case-api took it, or it needs no forwarding; outcome says which
    failed = "failed"  # the gateway cannot forward it (e.g. a reference that maps to no case)
    rejected = "rejected"  # case-api refused it (4xx); outcome holds its problem


class InboundMessage(Base):
    __tablename__ = "inbound_message"
    __table_args__ = (
        # A repeated webhook-id of the same partner is answered with the first answer (Standard Webhooks).
        UniqueConstraint("partner_id", "webhook_id"),
        Index("ix_inbound_message_due", "status", "next_attempt_at"),
        Index("ix_inbound_message_order", "partner_id", "reference", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partner.id"))
    webhook_id: Mapped[str] = mapped_column(String(200))
    # sha256 of the body: the same webhook-id with another body is a conflicting message (409).
    body_sha256: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(60))
    reference: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[InboundStatus] = mapped_column(EnumText(InboundStatus, 20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class ReferenceMap(Base):
    """A partner's own reference (a corporation's tenancy reference, a bailiff's file number, the reference of a
    referral the gateway sent MEE Noord) and its case."""

    __tablename__ = "reference_map"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partner.id"), primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
