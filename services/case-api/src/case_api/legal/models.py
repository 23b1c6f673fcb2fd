"""The legal track: summons and judgment, and the eviction with the history of its dates (R5-R7)."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import EnumText, UTCDateTime


class LegalStepKind(StrEnum):
    eviction_requested = "eviction_requested"  # the landlord asked its bailiff to evict (the legal track starts)
    summons_served = "summons_served"  # dagvaarding
    judgment_given = "judgment_given"  # vonnis


# The steps the court takes part in: they carry the court's case number.
COURT_STEPS = frozenset({LegalStepKind.summons_served, LegalStepKind.judgment_given})


class LegalStep(Base):
    __tablename__ = "legal_step"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    kind: Mapped[LegalStepKind] = mapped_column(EnumText(LegalStepKind, 20))
    occurred_on: Mapped[date] = mapped_column(Date)
    # The court's case number of a summons or judgment; none for an eviction request (no court yet).
    court_reference: Mapped[str | None] = mapped_column(String(100), default=None)
    hearing_date: Mapped[date | None] = mapped_column(Date, default=None)
    eviction_granted: Mapped[bool | None] = mapped_column(Boolean, default=None)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EvictionChange(StrEnum):
    scheduled = "scheduled"
    postponed = "postponed"
    cancelled = "cancelled"
    averted = "averted"  # averted by payment, arrangement, second chance or moratorium (no bailiff message)
    executed = "executed"


class CancellationReason(StrEnum):
    """The values of `cancellation_reason` in schemas/.../common.schema.json, which eviction.cancelled carries."""

    arrears_paid = "arrears_paid"
    payment_arrangement = "payment_arrangement"
    debt_arrangement = "debt_arrangement"
    second_chance_agreement = "second_chance_agreement"
    moratorium = "moratorium"
    landlord_withdrew = "landlord_withdrew"
    court_decision = "court_decision"
    other = "other"


class EvictionDateChange(Base):
    """Every message about the eviction date, in the order received: the case's `eviction_date` is the last."""

    __tablename__ = "eviction_date_change"
    __table_args__ = (UniqueConstraint("case_id", "position"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    # 1, 2, 3... per case, in the order received (several messages may share one instant).
    position: Mapped[int] = mapped_column(Integer)
    change: Mapped[EvictionChange] = mapped_column(EnumText(EvictionChange, 12))
    eviction_date: Mapped[date | None] = mapped_column(Date, default=None)
    previous_eviction_date: Mapped[date | None] = mapped_column(Date, default=None)
    served_on: Mapped[date | None] = mapped_column(Date, default=None)
    # R7: a postponed date served fewer than 3 days before it is accepted, and flagged.
    late_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    reason_code: Mapped[CancellationReason | None] = mapped_column(EnumText(CancellationReason, 30), default=None)
    bailiff_reference: Mapped[str | None] = mapped_column(String(100), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SecondChanceAgreement(Base):
    """A second-chance agreement (tweede-kansovereenkomst) the corporation offered the household; once signed, it
    averts a threatened or scheduled eviction."""

    __tablename__ = "second_chance_agreement"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    offered_on: Mapped[date] = mapped_column(Date)
    signed_on: Mapped[date | None] = mapped_column(Date, default=None)
    # The corporation that offered it, when its message came through the partner gateway.
    partner_id: Mapped[str | None] = mapped_column(String(64), default=None)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
