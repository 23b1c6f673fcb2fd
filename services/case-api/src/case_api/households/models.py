"""The household: the tenants and their children at one address, and how to reach them."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from case_api.db import Base
from service_kit.db import EnumText, UTCDateTime


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    letter = "letter"
    phone = "phone"


class Language(StrEnum):
    dutch = "nl"
    frisian = "fy"
    english = "en"


class MemberRole(StrEnum):
    tenant = "tenant"
    co_tenant = "co_tenant"
    child = "child"
    other = "other"


class Household(Base):
    __tablename__ = "household"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    street: Mapped[str] = mapped_column(String(200))
    house_number: Mapped[str] = mapped_column(String(10))
    house_number_suffix: Mapped[str] = mapped_column(String(10), default="")
    postcode: Mapped[str] = mapped_column(String(7))
    city: Mapped[str] = mapped_column(String(100))
    # R2 matches signals by address: postcode + number + suffix, normalised.
    address_key: Mapped[str] = mapped_column(String(30), index=True)
    mail_address: Mapped[str | None] = mapped_column(String(400), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    mobile: Mapped[str | None] = mapped_column(String(20), default=None)
    preferred_channel: Mapped[Channel] = mapped_column(EnumText(Channel, 10), default=Channel.letter)
    language: Mapped[Language] = mapped_column(EnumText(Language, 5), default=Language.dutch)
    # R15: the BSN only encrypted; the blind index finds a household without decrypting.
    bsn_token: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    bsn_index: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Raised by every change of the household or its members; the household read's ETag (If-Match, ADR 0013).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    # How many minors a partner reported (its count, or from its members' birth years): it counts while staff have
    # not recorded the members; once they have (PUT, or a member added, changed or removed), their birth dates win.
    reported_minors: Mapped[int | None] = mapped_column(default=None)
    members_by_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    members: Mapped[list["Member"]] = relationship(
        back_populates="household", lazy="raise", cascade="all, delete-orphan", order_by="Member.position"
    )


class Member(Base):
    __tablename__ = "household_member"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    role: Mapped[MemberRole] = mapped_column(EnumText(MemberRole, 12))
    initials: Mapped[str] = mapped_column(String(20), default="")
    given_name: Mapped[str] = mapped_column(String(100), default="")
    surname_prefix: Mapped[str] = mapped_column(String(20), default="")
    surname: Mapped[str] = mapped_column(String(200), default="")
    birth_date: Mapped[date | None] = mapped_column(Date, default=None)

    household: Mapped[Household] = relationship(back_populates="members", lazy="raise")


def is_minor(birth_date: date | None, on: date) -> bool:
    """Under 18 on `on`; minors follow from the birth date, never from a flag someone forgot to set (R10)."""
    if birth_date is None:
        return False
    eighteenth = _add_years(birth_date, 18)
    return on < eighteenth


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # born on 29 February: of age on 1 March in a common year
        return date(day.year + years, 3, 1)


def minors_of_birth_years(years: list[int], on: date) -> int:
    """The members born in `years` who may be under 18 on `on`. A birth year cannot tell an 18th birthday later
    this year from one passed: R10 errs on the child's side and counts the member (staff's birth date corrects it)."""
    return sum(on.year - year <= 18 for year in years)


def normalise_address_key(postcode: str, house_number: str, suffix: str = "") -> str:
    return f"{postcode.replace(' ', '').upper()}|{house_number.strip()}|{suffix.strip().upper()}"
