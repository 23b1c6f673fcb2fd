"""What the signal-file endpoints give: the per-row report."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RowError(BaseModel):
    column: str = Field(description="The column to fix, as named in the header row.")
    message: str = Field(description="What is wrong; never the refused value itself.")


class RowReport(BaseModel):
    row: int = Field(description="The row's number in the file, the header row being row 1.")
    status: Literal["accepted", "rejected"]
    message_id: str | None = Field(
        default=None, description="An accepted row's message: GET /v1/partners/{partner_id}/messages/{id}."
    )
    consent_given: bool | None = Field(
        default=None, description="An accepted row: whether the tenant consented or did not object (see README)."
    )
    errors: list[RowError] = Field(default_factory=list)


class SignalFileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    content_sha256: str = Field(description="A file with this hash was taken once; sending it again gives this.")
    size_bytes: int
    rows: int
    accepted: int
    rejected: int
    received_at: datetime
    report: list[RowReport]
