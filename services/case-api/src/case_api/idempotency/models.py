"""Idempotency-Key: a repeated write with the same key gets the first answer and changes nothing again."""

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import UTCDateTime


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"

    caller: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    # The answer, encrypted with the BSN encryption key (BsnVault.seal) and bound to caller and key: an answer may
    # hold a full BSN (a household for a debt counsellor), names and addresses (R15).
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    # The case the write was about, when there is one: its stored answers are erased with the case (R18).
    case_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
