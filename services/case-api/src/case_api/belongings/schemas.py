"""What the REST surface takes and gives for stored belongings (R14)."""

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from case_api.belongings.models import BelongingsStatus, DisposalMethod

# An opaque reference, as events carry it (schemas/.../common.schema.json#/$defs/opaque_reference).
REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9._:/+=-]*$"


class BelongingsStore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    storage_place: str = Field(min_length=1, max_length=200, examples=["Gemeentelijk depot Leeuwarden"])
    storage_reference: str = Field(min_length=1, max_length=100, pattern=REFERENCE, examples=["DEP-2026-0042"])
    inventory_reference: str = Field(
        min_length=1, max_length=100, description="The inventory list or report (proces-verbaal) of the goods."
    )
    stored_on: date | None = Field(default=None, description="The date the goods were stored; today when left out.")
    costs: Decimal = Field(ge=0, le=Decimal("1000000"), max_digits=12, decimal_places=2)
    paid_by: str = Field(default="landlord", min_length=1, max_length=200, description="At the landlord's expense.")
    note: str | None = Field(default=None, max_length=4000)


class BelongingsReturn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    returned_on: date | None = Field(default=None, description="The date the owner reclaimed them; today if left out.")


class BelongingsDispose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disposed_on: date | None = Field(
        default=None, description="Not before the end of the retention period; today when left out."
    )
    method: DisposalMethod


class BelongingsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    storage_place: str
    storage_reference: str
    inventory_reference: str
    stored_on: date
    retention_ends_on: date = Field(description="After it unclaimed goods may be sold or destroyed (R14).")
    costs: Decimal
    paid_by: str
    status: BelongingsStatus
    returned_on: date | None
    disposed_on: date | None
    disposal_method: DisposalMethod | None
    note: str | None
    recorded_by: str
    recorded_at: datetime


class BelongingsList(BaseModel):
    items: list[BelongingsRead]
