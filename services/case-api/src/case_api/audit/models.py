"""The processing log (R17): who read or changed which case's personal data, for which processing
activity, when, under which W3C trace id; the shape of Logius' "Logboek Dataverwerkingen"."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import EnumText, UTCDateTime


class Operation(StrEnum):
    read = "read"
    write = "write"
    erase = "erase"


class ProcessingLogEntry(Base):
    __tablename__ = "processing_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    actor_roles: Mapped[str] = mapped_column(String(200))
    activity: Mapped[str] = mapped_column(String(80))
    operation: Mapped[Operation] = mapped_column(EnumText(Operation, 10))
    case_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    trace_id: Mapped[str | None] = mapped_column(String(32), default=None)
