"""What the REST surface gives the notifier: how to reach a household, and the facts a message may name."""

from datetime import date

from pydantic import BaseModel, Field

from case_api.households.models import Channel, Language


class NotificationContact(BaseModel):
    """Read by the notifier at send time (never carried in an event); every read is in the processing log (R17)."""

    case_id: str
    first_name: str = Field(description="The first tenant's given name; their initials and surname when unknown.")
    full_name: str = Field(
        description="The first tenant's name as a letter is addressed: given name (or initials), "
        "surname prefix, surname."
    )
    address_lines: list[str] = Field(
        description='The home address: ["street number suffix", "postcode city"]; [] once the eviction was executed.',
        examples=[["Proefstraat 12", "8911 AB Leeuwarden"]],
    )
    mail_address_lines: list[str] = Field(
        description="A separate mail address (postadres) if recorded, one line each; [] when none.",
        examples=[["Postbus 1234", "8900 CA Leeuwarden"]],
    )
    email: str | None
    mobile: str | None
    preferred_channel: Channel
    language: Language
    evicted: bool = Field(description="The eviction was executed: the home address no longer reaches the household.")
    team: str
    eviction_date: date | None = Field(description="The current eviction date (the executed one after an eviction).")
    storage_place: str | None = Field(description="Where the household's stored goods are (R14); null when none are.")
    storage_reference: str | None = Field(
        description="The reference under which the storage place keeps the goods, to quote when reclaiming them "
        "(R14); null when none are stored."
    )
    retention_end: date | None = Field(description="The end of the goods' retention period (R14); null when none.")
    housing_address: str | None = Field(
        description="The temporary housing's address (R13); null while case-api does not record it."
    )
    objection_end: date | None = Field(
        description="The last day to object to the temporary-housing decision (R13); null while not recorded."
    )
    offer_oco: bool = Field(
        description="Whether a message should offer OCO by MEE Noord: the household has not "
        "answered an OCO offer yet (R8)."
    )
