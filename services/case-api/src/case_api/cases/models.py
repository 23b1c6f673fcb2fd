"""The case: one per household, from the first signal to closure."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import EnumText, UTCDateTime


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


class RehousingOutcome(StrEnum):
    """R11: what a family with minors has for after the eviction date."""

    temporary_housing_granted = "temporary_housing_granted"
    own_solution = "own_solution"
    refused_with_reason = "refused_with_reason"


class OutcomeCode(StrEnum):
    """The national vroegsignalering vocabulary plus the eviction outcomes (spec/domain.md)."""

    not_picked_up_repeat_signal = "not_picked_up_repeat_signal"
    not_picked_up_unjustified_signal = "not_picked_up_unjustified_signal"
    not_picked_up_other_reason = "not_picked_up_other_reason"
    resident_deceased = "resident_deceased"
    no_longer_a_resident = "no_longer_a_resident"
    already_known_to_debt_help = "already_known_to_debt_help"
    other_ongoing_track = "other_ongoing_track"
    definitively_no_contact = "definitively_no_contact"
    no_reaction_after_earlier_contact = "no_reaction_after_earlier_contact"
    no_help_wanted = "no_help_wanted"
    paid_or_arranged_by_themselves = "paid_or_arranged_by_themselves"
    advice_quick_fix = "advice_quick_fix"
    follow_up_financial_help = "follow_up_financial_help"
    referral_without_contact = "referral_without_contact"
    follow_up_non_financial_help = "follow_up_non_financial_help"
    eviction_averted = "eviction_averted"
    evicted = "evicted"


class Case(Base):
    __tablename__ = "case"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("household.id"), index=True)
    team: Mapped[str] = mapped_column(String(40), index=True)
    stage: Mapped[Stage] = mapped_column(EnumText(Stage, 30), index=True)
    priority: Mapped[Priority] = mapped_column(EnumText(Priority, 10))
    has_minors: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # R2 flags: a signal for the same address within the configured months; several signals in one month.
    consecutive: Mapped[bool] = mapped_column(Boolean, default=False)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    crisis: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_by: Mapped[OpenedBy] = mapped_column(EnumText(OpenedBy, 20))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_signal_on: Mapped[date | None] = mapped_column(Date, default=None)
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The current eviction date; its history is in eviction_date_change.
    eviction_date: Mapped[date | None] = mapped_column(Date, default=None, index=True)
    rehousing_outcome: Mapped[RehousingOutcome | None] = mapped_column(EnumText(RehousingOutcome, 30), default=None)
    outcome_code: Mapped[OutcomeCode | None] = mapped_column(EnumText(OutcomeCode, 40), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # R18: when personal data was erased (the case row stays, without anything personal).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The per-case `sequence` of the last event written; events of one case strictly increase.
    last_event_sequence: Mapped[int] = mapped_column(Integer, default=0)
