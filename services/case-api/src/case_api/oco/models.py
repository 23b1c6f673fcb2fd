"""Independent client support (OCO) by MEE Noord: offers through several channels at several moments (R8),
and the household's consent before any personal data goes to MEE Noord (R9)."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from case_api.db import Base
from case_api.support.models import SupportKind
from service_kit.db import EnumText, UTCDateTime


class OcoMoment(StrEnum):
    threat_started = "threat_started"
    date_set = "date_set"
    week_before = "week_before"
    after_eviction = "after_eviction"


# The notification moments of spec/notifications.md that events name for each OCO moment of R8.
NOTIFICATION_MOMENT = {
    OcoMoment.threat_started: "M3",
    OcoMoment.date_set: "M4",
    OcoMoment.week_before: "M5",
    OcoMoment.after_eviction: "M7",
}


class OfferChannel(StrEnum):
    """A channel an OCO offer goes through; caseworker_task is the human one (a call or a visit)."""

    email = "email"
    sms = "sms"
    letter = "letter"
    caseworker_task = "caseworker_task"
    phone = "phone"
    home_visit = "home_visit"


class OcoAnswer(StrEnum):
    accepted = "accepted"
    declined = "declined"


class ConsentMethod(StrEnum):
    in_person = "in_person"
    phone = "phone"
    written = "written"
    digital = "digital"


class OcoOffer(Base):
    __tablename__ = "oco_offer"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    moment: Mapped[OcoMoment] = mapped_column(EnumText(OcoMoment, 20))
    channels: Mapped[list[str]] = mapped_column(JSON)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer: Mapped[OcoAnswer | None] = mapped_column(EnumText(OcoAnswer, 10), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    consent_id: Mapped[str | None] = mapped_column(ForeignKey("oco_consent.id"), default=None)
    recorded_by: Mapped[str] = mapped_column(String(200))


class OcoConsent(Base):
    """R9: who gave consent, when, how, and for what; nothing personal reaches MEE Noord without it."""

    __tablename__ = "oco_consent"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    given_by: Mapped[str] = mapped_column(String(200))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    method: Mapped[ConsentMethod] = mapped_column(EnumText(ConsentMethod, 12))
    purpose: Mapped[str] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    recorded_by: Mapped[str] = mapped_column(String(200))


class ReferralStepKind(StrEnum):
    """What MEE Noord reports about a referral it received (its messages referral.accepted, contact.made,
    support.started, support.ended, referral.declined)."""

    accepted = "accepted"
    contact_made = "contact_made"
    support_started = "support_started"
    support_ended = "support_ended"
    declined = "declined"


class ReferralStatus(StrEnum):
    """Where a referral stands: the consent's referral before MEE Noord answered it (referred), then its steps."""

    referred = "referred"
    accepted = "accepted"
    in_contact = "in_contact"
    in_support = "in_support"
    support_ended = "support_ended"
    declined = "declined"


class OcoContactChannel(StrEnum):
    """How MEE Noord reached the household (contact.made's channel)."""

    phone = "phone"
    visit = "visit"
    letter = "letter"
    email = "email"
    sms = "sms"


class OcoReferralStep(Base):
    """One step of a referral to MEE Noord, which the referral's consent names (its reference: the consent's id).
    Nothing personal: dates, how contact was made, the kind of support."""

    __tablename__ = "oco_referral_step"
    __table_args__ = (UniqueConstraint("consent_id", "position"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("oco_consent.id"), index=True)
    # 1, 2, 3... per referral, in the order recorded (several steps may share one instant).
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ReferralStepKind] = mapped_column(EnumText(ReferralStepKind, 20))
    occurred_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[OcoContactChannel | None] = mapped_column(EnumText(OcoContactChannel, 10), default=None)
    support_kind: Mapped[SupportKind | None] = mapped_column(EnumText(SupportKind, 30), default=None)
    # The case's support trajectory the step started or ended (none when one of that kind was running already).
    support_id: Mapped[str | None] = mapped_column(ForeignKey("support_trajectory.id"), default=None)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
