"""What the REST surface gives for statistics: aggregates only, small cells suppressed (R12, R16)."""

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field


class Period(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


class Cell(BaseModel):
    """A count; null with suppressed=true when so few households stand behind it that it could expose one (R16)."""

    value: int | None
    suppressed: bool = False


class FloatCell(BaseModel):
    value: float | None
    suppressed: bool = False


class StatisticsFrame(BaseModel):
    period: Period
    first_day: date
    last_day: date
    min_cell: int = Field(description="Cells below this (but above zero) are suppressed (R16).")


class ChildrenRow(BaseModel):
    period_start: date
    threatened: Cell = Field(description="Minors in households whose eviction was threatened (summons/judgment/date).")
    averted: Cell = Field(description="Minors in households whose eviction was averted or cancelled.")
    executed: Cell = Field(description="Minors in households that were evicted.")


class ChildrenStatistics(StatisticsFrame):
    """R12: how many children were involved in threatened, averted and executed evictions, per period."""

    rows: list[ChildrenRow]


class OutcomesRow(BaseModel):
    period_start: date
    threatened: Cell
    averted: Cell
    executed: Cell


class OutcomesStatistics(StatisticsFrame):
    """Households whose eviction was threatened, averted and executed, per period."""

    rows: list[OutcomesRow]


class FirstContactRow(BaseModel):
    period_start: date = Field(description="Periods by the date of the case's first signal.")
    count: Cell
    median_days: FloatCell
    p90_days: FloatCell


class FirstContactStatistics(StatisticsFrame):
    """Calendar days from the first signal to the first contact attempt, per period of the signal."""

    rows: list[FirstContactRow]
