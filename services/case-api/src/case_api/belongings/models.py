"""Stored household goods (inboedel, R14): carried away and stored at the landlord's expense; reclaimable,
and after 13 weeks unclaimed goods may be sold or destroyed."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import EnumText, UTCDateTime


class BelongingsStatus(StrEnum):
    stored = "stored"
    returned = "returned"
    disposed = "disposed"


class DisposalMethod(StrEnum):
    sold = "sold"
    destroyed = "destroyed"


class StoredBelongings(Base):
    __tablename__ = "stored_belongings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    storage_place: Mapped[str] = mapped_column(String(200))
    storage_reference: Mapped[str] = mapped_column(String(100))
    inventory_reference: Mapped[str] = mapped_column(String(100))
    stored_on: Mapped[date] = mapped_column(Date)
    retention_ends_on: Mapped[date] = mapped_column(Date, index=True)
    costs: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    paid_by: Mapped[str] = mapped_column(String(200), default="landlord")
    status: Mapped[BelongingsStatus] = mapped_column(EnumText(BelongingsStatus, 10))
    returned_on: Mapped[date | None] = mapped_column(Date, default=None)
    disposed_on: Mapped[date | None] = mapped_column(Date, default=None)
    disposal_method: Mapped[DisposalMethod | None] = mapped_column(EnumText(DisposalMethod, 10), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
