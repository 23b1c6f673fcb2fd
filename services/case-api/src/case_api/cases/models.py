"""The case: one per household, from the first signal to closure."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base


class Stage(StrEnum):
    signalled = "signalled"
    outreach = "outreach"
    in_support = "in_support"
    eviction_threatened = "eviction_threatened"
    eviction_scheduled = "eviction_scheduled"
    averted = "averted"
    evicted = "evicted"
    aftercare = "aftercare"
    closed = "closed"


class Priority(StrEnum):
    normal = "normal"
    high = "high"
    highest = "highest"


class OpenedBy(StrEnum):
    signal = "signal"
    partner_message = "partner_message"
    staff = "staff"


class Case(Base):
    __tablename__ = "case"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    team: Mapped[str] = mapped_column(String(40), index=True)
    stage: Mapped[Stage] = mapped_column(String(30), index=True)
    priority: Mapped[Priority] = mapped_column(String(10))
    has_minors: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_by: Mapped[OpenedBy] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The per-case `sequence` of the last event written; events of one case strictly increase.
    last_event_sequence: Mapped[int] = mapped_column(Integer, default=0)
