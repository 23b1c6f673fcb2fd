"""What the REST surface takes and gives for households."""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from case_api.households.models import Channel, Language, MemberRole
from case_api.privacy.bsn import is_valid_bsn

POSTCODE = r"^[1-9][0-9]{3} ?[A-Z]{2}$"
MAX_MEMBERS = 20


def storable_text(value: object) -> object:
    """A text PostgreSQL can store and every client can encode: no NUL character, no unpaired surrogate."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            raise ValueError("must not contain an unpaired UTF-16 surrogate")
    return value


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: MemberRole
    initials: str = Field(default="", max_length=20)
    given_name: str = Field(default="", max_length=100)
    surname_prefix: str = Field(default="", max_length=20)
    surname: str = Field(default="", max_length=200)
    birth_date: date | None = Field(default=None, description="Minors follow from it (R10).")

    _storable = field_validator("initials", "given_name", "surname_prefix", "surname")(storable_text)


class MemberPatch(BaseModel):
    """A change of one member: only the fields sent change; `birth_date: null` clears a birth date."""

    model_config = ConfigDict(extra="forbid")

    role: MemberRole | None = None
    initials: str | None = Field(default=None, max_length=20)
    given_name: str | None = Field(default=None, max_length=100)
    surname_prefix: str | None = Field(default=None, max_length=20)
    surname: str | None = Field(default=None, max_length=200)
    birth_date: date | None = Field(default=None, description="Minors follow from it (R10); null clears it.")

    _storable = field_validator("initials", "given_name", "surname_prefix", "surname")(storable_text)

    @field_validator("role", "initials", "given_name", "surname_prefix", "surname", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be left out, not null")
        return value

    @model_validator(mode="after")
    def _something(self) -> "MemberPatch":
        if not self.model_fields_set:
            raise ValueError("name at least one field to change")
        return self


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: str = Field(min_length=1, max_length=200)
    house_number: str = Field(min_length=1, max_length=10, pattern=r"^[0-9]+$")
    house_number_suffix: str = Field(default="", max_length=10)
    postcode: str = Field(pattern=POSTCODE, examples=["8911 AB"])
    city: str = Field(min_length=1, max_length=100)
    mail_address: str | None = Field(
        default=None, max_length=400, description="Where post reaches the household when not at the home address."
    )
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    mobile: str | None = Field(default=None, pattern=r"^(\+316|06)[0-9]{8}$", examples=["0612345678"])
    preferred_channel: Channel = Channel.letter
    language: Language = Language.dutch
    bsn: str | None = Field(default=None, description="Optional; 9 digits passing the eleven-test (R15).")
    members: list[MemberIn] = Field(min_length=1, max_length=MAX_MEMBERS)

    _storable = field_validator("street", "house_number_suffix", "city", "mail_address", "email", "mobile", "bsn")(
        storable_text
    )

    @field_validator("bsn")
    @classmethod
    def _eleven_test(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_bsn(value):
            raise ValueError("must be 9 digits that pass the eleven-test")
        return value


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    role: MemberRole
    initials: str
    given_name: str
    surname_prefix: str
    surname: str
    birth_date: date | None
    minor: bool


class HouseholdRead(BaseModel):
    id: str
    street: str
    house_number: str
    house_number_suffix: str
    postcode: str
    city: str
    mail_address: str | None
    email: str | None
    mobile: str | None
    preferred_channel: Channel
    language: Language
    bsn: str | None = Field(description="Masked unless the caller's role needs the full number (R15).")
    members: list[MemberRead]
    version: int = Field(description="Raised by every change; the ETag of GET /household, for If-Match (ADR 0013).")
    reported_minors: int | None = Field(
        description="How many minors a partner reported (a count, or from birth years); counts towards has_minors "
        "only while members_by_staff is false (ADR 0013)."
    )
    members_by_staff: bool = Field(
        description="Staff recorded the members (opened the case, replaced the household or changed a member): "
        "their birth dates alone decide the minors."
    )
