"""Tasks: what someone must do by when. The deadline worker creates, escalates and completes them (R4-R7,
R10, R14); caseworkers complete them by hand too."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import EnumText, UTCDateTime


class TaskKind(StrEnum):
    first_contact = "first_contact"  # R4 / R5
    offer_of_help = "offer_of_help"  # R4
    eviction_assessment = "eviction_assessment"  # R6: can the eviction still be averted?
    child_rights_assessment = "child_rights_assessment"  # R10
    request_postponement = "request_postponement"  # R10 at T-2: ask the corporation to postpone
    eviction_countdown = "eviction_countdown"  # R7: T-14, T-7, T-2
    belongings_deadline = "belongings_deadline"  # R14: the 13-week end
    belongings_reminder = "belongings_reminder"  # R14: 3 weeks before the end
    arrears_cleared = "arrears_cleared"  # the arrears were paid: close with an outcome, or carry on (ADR 0012)
    home_visit = "home_visit"  # the human channel of the notifier
    call = "call"


class AssigneeRole(StrEnum):
    outreach_worker = "outreach_worker"
    debt_counsellor = "debt_counsellor"
    team_lead = "team_lead"


class TaskStatus(StrEnum):
    open = "open"
    completed = "completed"
    cancelled = "cancelled"


class Task(Base):
    __tablename__ = "task"
    # One task per case and purpose: the worker can run any number of times and creates each task once.
    __table_args__ = (UniqueConstraint("case_id", "purpose"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    kind: Mapped[TaskKind] = mapped_column(EnumText(TaskKind, 30))
    purpose: Mapped[str] = mapped_column(String(80))
    rule: Mapped[str] = mapped_column(String(10))
    due_date: Mapped[date] = mapped_column(Date, index=True)
    assignee_role: Mapped[AssigneeRole] = mapped_column(EnumText(AssigneeRole, 20))
    status: Mapped[TaskStatus] = mapped_column(EnumText(TaskStatus, 10), index=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    completed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    # Why the task exists, when its creator says so (the notifier: why a caseworker should call or visit).
    reason: Mapped[str | None] = mapped_column(Text, default=None)
