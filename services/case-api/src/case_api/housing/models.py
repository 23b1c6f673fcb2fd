"""Temporary housing after an eviction (R13): eligible with a debt arrangement and active financial
guidance; a team lead may grant it anyway, with a recorded reason. Also R11's rehousing outcome."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import UTCDateTime


class TemporaryHousingDecision(Base):
    __tablename__ = "temporary_housing_decision"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    debt_arrangement_in_place: Mapped[bool] = mapped_column(Boolean)
    financial_guidance_active: Mapped[bool] = mapped_column(Boolean)
    override_reason: Mapped[str | None] = mapped_column(Text, default=None)
    refusal_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # R11: what the family has for after the date when it is not temporary housing.
    rehousing_outcome: Mapped[str] = mapped_column(String(30))
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
