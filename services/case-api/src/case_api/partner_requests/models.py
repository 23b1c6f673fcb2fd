"""Requests to the case's partners and the case's contact person (contract.md: what each partner kind may receive).

The events of these records (postponement.requested, second-chance.requested, contact-person.assigned) carry no
personal data: the note of a request stays here, and the contact person's name and work contact details are read
by the partner gateway when it sends the bailiff's webhook (GET /v1/cases/{case_id}/contact-person).
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import EnumText, UTCDateTime


class Recipient(StrEnum):
    """Whom a request to postpone is addressed to: the landlord who asked for the eviction, or its bailiff."""

    housing_corporation = "housing_corporation"
    bailiff = "bailiff"


class PostponementGrounds(StrEnum):
    """Why the municipality asks to postpone, as a category a bailiff may plan with (never the details, which stay
    in the note here: health, debts and support are not the bailiff's business). The values of
    `postponement_grounds` in schemas/.../common.schema.json."""

    child_rights_assessment_pending = "child_rights_assessment_pending"  # R10: not recorded at T-2
    no_sleeping_place_for_children = "no_sleeping_place_for_children"  # R10/R11: where the children sleep after
    support_in_progress = "support_in_progress"  # help under way that may resolve the arrears
    settlement_in_prospect = "settlement_in_prospect"  # payment or an arrangement is about to be made
    vulnerable_household = "vulnerable_household"  # a vulnerable situation; the details stay with the municipality
    other = "other"


class ContactKind(StrEnum):
    caseworker = "caseworker"  # the caseworker assigned to the case
    team = "team"  # the area team's contact (a desk, a shared mailbox)


class PostponementRequest(Base):
    __tablename__ = "postponement_request"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    to_housing_corporation: Mapped[bool] = mapped_column(Boolean)
    to_bailiff: Mapped[bool] = mapped_column(Boolean)
    grounds_category: Mapped[PostponementGrounds] = mapped_column(EnumText(PostponementGrounds, 40))
    # The eviction date the request asks to move (the case's date when it was made).
    eviction_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text, default=None)  # stays in case-api; erased with the case (R18)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def recipients(self) -> list[Recipient]:
        return [
            recipient
            for recipient, addressed in (
                (Recipient.housing_corporation, self.to_housing_corporation),
                (Recipient.bailiff, self.to_bailiff),
            )
            if addressed
        ]


class SecondChanceRequest(Base):
    """The municipality asks the corporation to offer a second-chance agreement (tweede-kansovereenkomst)."""

    __tablename__ = "second_chance_request"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ContactPerson(Base):
    """The municipality's contact person for the case, as the bailiff may reach them: work contact details only."""

    __tablename__ = "case_contact_person"

    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), primary_key=True)
    kind: Mapped[ContactKind] = mapped_column(EnumText(ContactKind, 20))
    name: Mapped[str] = mapped_column(String(200))
    work_email: Mapped[str | None] = mapped_column(String(254), default=None)
    work_phone: Mapped[str | None] = mapped_column(String(40), default=None)
    assigned_by: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
