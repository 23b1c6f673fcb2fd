"""What statistics keep of a case whose personal data was erased (R18): per fact (threatened, averted,
executed) its date and the number of minors in the household on that date; counts and dates, nothing personal."""

from datetime import date
from enum import StrEnum

from sqlalchemy import BigInteger, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from case_api.db import Base
from service_kit.db import EnumText


class FactKind(StrEnum):
    threatened = "threatened"  # the case reached eviction_threatened or eviction_scheduled
    averted = "averted"
    executed = "executed"


class StatisticsFact(Base):
    __tablename__ = "statistics_fact"
    __table_args__ = (UniqueConstraint("case_id", "kind"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[FactKind] = mapped_column(EnumText(FactKind, 12))
    occurred_on: Mapped[date] = mapped_column(Date, index=True)
    minors: Mapped[int] = mapped_column(Integer)
