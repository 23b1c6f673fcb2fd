"""A signal file as taken: its content hash (a file taken before is answered with its first report) and report."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from partner_gateway.db import Base
from service_kit.db import UTCDateTime


class SignalFile(Base):
    __tablename__ = "signal_file"
    # The same file (byte for byte) of the same partner is processed once; sending it again gives the first report.
    __table_args__ = (UniqueConstraint("partner_id", "content_sha256"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partner.id"))
    content_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    # One entry per data row: {"row", "status", "message_id"?, "consent_given"?, "errors"?}; never personal values.
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
