"""The child-rights assessment (kinderrechtentoets, R10): the children's situation, whether they were heard
in a way that fits their age, and where they will sleep after the eviction date."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import UTCDateTime


class ChildRightsAssessment(Base):
    __tablename__ = "child_rights_assessment"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("case.id"), index=True)
    children_situation: Mapped[str] = mapped_column(Text)
    children_heard: Mapped[bool] = mapped_column(Boolean)
    how_heard: Mapped[str | None] = mapped_column(Text, default=None)
    # The column keeps its first name; the API and the code say "after eviction" (a text, not a date).
    sleeping_place_after_eviction: Mapped[str | None] = mapped_column("sleeping_place_after_date", Text, default=None)
    completed: Mapped[bool] = mapped_column(Boolean)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
