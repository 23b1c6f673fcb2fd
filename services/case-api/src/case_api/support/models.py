"""Support trajectories: the help a household accepted (debt counselling, arrangements, financial guidance)."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import EnumText, UTCDateTime


class SupportKind(StrEnum):
    debt_counselling = "debt_counselling"
    payment_arrangement = "payment_arrangement"
    debt_arrangement = "debt_arrangement"  # schuldregeling (R13)
    budget_management = "budget_management"  # budgetbeheer: financial guidance (R13)
    protective_administration = "protective_administration"  # beschermingsbewind: financial guidance (R13)


FINANCIAL_GUIDANCE = frozenset({SupportKind.budget_management, SupportKind.protective_administration})


class SupportTrajectory(Base):
    __tablename__ = "support_trajectory"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    kind: Mapped[SupportKind] = mapped_column(EnumText(SupportKind, 30))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date, default=None)
    end_reason: Mapped[str | None] = mapped_column(Text, default=None)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
