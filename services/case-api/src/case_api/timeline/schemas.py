"""What the REST surface gives for a case's timeline."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class TimelineEntry(BaseModel):
    sequence: int = Field(description="The event's per-case sequence: strictly increasing, the timeline's order.")
    event: str = Field(examples=["case.opened"], description="The catalogue name (contract.md).")
    type: str = Field(examples=["nl.eviction-prevention.case.opened"])
    time: datetime
    data: dict[str, Any] = Field(description="The event's data: thin on purpose, nothing personal.")


class TimelineRead(BaseModel):
    case_id: str
    items: list[TimelineEntry]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page.")
