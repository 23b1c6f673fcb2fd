"""What the REST surface takes and gives for requests to partners and the case's contact person."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from case_api.partner_requests.models import ContactKind, PostponementGrounds, Recipient

NOTE = Field(
    default=None,
    min_length=1,
    max_length=4000,
    description="For the case file only: never sent to a partner, never in an event.",
)


class PostponementRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[Recipient] = Field(
        min_length=1,
        max_length=2,
        description="Whom the request is addressed to: the housing corporation, the bailiff, or both.",
        examples=[["housing_corporation", "bailiff"]],
    )
    grounds_category: PostponementGrounds = Field(
        description="Why, as a category: the bailiff receives it, the corporation does not."
    )
    note: str | None = NOTE


class PostponementRequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    recipients: list[Recipient]
    grounds_category: PostponementGrounds
    eviction_date: date = Field(description="The eviction date the request asks to move.")
    note: str | None
    requested_by: str
    requested_at: datetime


class SecondChanceRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = NOTE


class SecondChanceRequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    note: str | None
    requested_by: str
    requested_at: datetime


class PartnerRequests(BaseModel):
    postponement_requests: list[PostponementRequestRead]
    second_chance_requests: list[SecondChanceRequestRead]


class ContactPersonIn(BaseModel):
    """The municipality's contact person for the case: the assigned caseworker or the team's contact, with work
    contact details only (a work e-mail address, a work phone number, at least one; never a private one)."""

    model_config = ConfigDict(extra="forbid")

    kind: ContactKind
    name: str = Field(min_length=1, max_length=200, examples=["Gebiedsteam Noord", "A. de Vries"])
    work_email: str | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["noord@gemeente.example"]
    )
    work_phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{5,30}[0-9]$", examples=["058 123 4567"])


class ContactPersonRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: str
    kind: ContactKind
    name: str
    work_email: str | None
    work_phone: str | None
    assigned_by: str
    assigned_at: datetime
