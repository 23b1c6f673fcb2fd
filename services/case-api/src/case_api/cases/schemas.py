"""What the REST surface takes and gives for cases."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from case_api.cases.models import OpenedBy, OutcomeCode, Priority, RehousingOutcome, Stage
from case_api.households.schemas import HouseholdIn, HouseholdRead
from case_api.signals.schemas import SignalIn, SignalRead

TEAM = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$", examples=["team-noord"])


class CaseOpen(BaseModel):
    """Open a case for a household. With a signal, the signal's matching rules apply (R2)."""

    model_config = ConfigDict(extra="forbid")

    team: str = TEAM
    opened_by: OpenedBy = OpenedBy.staff
    household: HouseholdIn
    signal: SignalIn | None = None


class CaseClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome_code: OutcomeCode


class CaseSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    household_id: str
    team: str
    stage: Stage
    priority: Priority
    has_minors: bool
    consecutive: bool
    multiple: bool
    crisis: bool
    opened_by: OpenedBy
    opened_at: datetime
    first_contact_at: datetime | None
    eviction_date: date | None
    rehousing_outcome: RehousingOutcome | None
    outcome_code: OutcomeCode | None
    closed_at: datetime | None


class CaseDetail(CaseSummary):
    household: HouseholdRead
    signals: list[SignalRead]
    allowed_actions: list[str] = Field(description="What the process allows from this stage (docs/process.md).")
