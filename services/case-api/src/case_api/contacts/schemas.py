"""What the REST surface takes and gives for contact attempts."""

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from case_api.contacts.models import ContactChannel, PartOfDay


class ContactAttemptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ContactChannel
    reached: bool
    attempted_at: AwareDatetime | None = Field(default=None, description="When; now when left out.")
    note: str | None = Field(default=None, max_length=4000)


class ContactAttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    channel: ContactChannel
    reached: bool
    attempted_at: datetime
    part_of_day: PartOfDay
    note: str | None
    recorded_by: str
