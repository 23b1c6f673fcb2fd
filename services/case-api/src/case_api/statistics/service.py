"""Statistics for policy analysts (R12, R16): aggregates per period, never a person.

A fact is one case reaching a point of the legal track on a date: threatened (first eviction request, summons,
judgment or eviction date), averted (cancelled by the bailiff or averted by the household or landlord) and
executed. Minors are counted from the members' birth dates on the fact's date. When a case's personal data is
erased (R18), the retention run first stores its facts with the number of minors (`snapshot_facts`), so figures
of past periods do not change after erasure.

Small numbers (R16): a cell standing for fewer than `statistics_min_cell` households, or counting fewer than that,
is answered as null with suppressed=true. Zero is shown: it exposes no household."""

import math
import statistics as stats
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta

from case_api.audit.models import Operation
from case_api.context import Context
from case_api.households.models import is_minor
from case_api.legal.models import EvictionChange
from case_api.statistics.models import FactKind, StatisticsFact
from case_api.statistics.repository import StatisticsRepository
from case_api.statistics.schemas import (
    Cell,
    ChildrenRow,
    ChildrenStatistics,
    FirstContactRow,
    FirstContactStatistics,
    FloatCell,
    OutcomesRow,
    OutcomesStatistics,
    Period,
)
from service_kit.errors import Unprocessable

STATISTICS = "statistics"  # the processing activity of aggregating cases (R17)
PERIOD_MONTHS = {Period.month: 1, Period.quarter: 3, Period.year: 12}
MAX_PERIODS = 240
AVERTING_CHANGES = frozenset({EvictionChange.cancelled, EvictionChange.averted})


@dataclass(frozen=True)
class Fact:
    case_id: str
    kind: FactKind
    on: date
    minors: int


def period_start(day: date, period: Period) -> date:
    months = PERIOD_MONTHS[period]
    return date(day.year, (day.month - 1) // months * months + 1, 1)


def periods(first: date, last: date, period: Period) -> list[date]:
    starts = []
    start = period_start(first, period)
    while start <= last:
        starts.append(start)
        start += relativedelta(months=PERIOD_MONTHS[period])
    return starts


def _window(ctx: Context, first: date | None, last: date | None, period: Period) -> tuple[date, date]:
    last = last or ctx.today()
    first = first or period_start(last - relativedelta(months=11), period)
    if first > last:
        raise Unprocessable("from lies after to", field="from")
    if len(periods(first, last, period)) > MAX_PERIODS:
        raise Unprocessable(f"at most {MAX_PERIODS} periods at once", field="from")
    return first, last


async def live_facts(ctx: Context, case_ids: Collection[str] | None = None) -> list[Fact]:
    """The facts of cases whose personal data is still there (all of them, or `case_ids`)."""
    repository = StatisticsRepository(ctx.session)
    dates: dict[tuple[str, FactKind], date] = {}

    def earliest(case_id: str, kind: FactKind, on: date) -> None:
        key = (case_id, kind)
        dates[key] = min(dates.get(key, on), on)

    for case_id, occurred_on in await repository.first_legal_steps(case_ids):
        earliest(case_id, FactKind.threatened, occurred_on)
    for case_id, change, recorded_at, eviction_date in await repository.first_eviction_changes(case_ids):
        recorded_on = ctx.calendar.local_date(recorded_at)
        if change is EvictionChange.scheduled:
            earliest(case_id, FactKind.threatened, recorded_on)
        elif change in AVERTING_CHANGES:
            earliest(case_id, FactKind.averted, recorded_on)
        elif change is EvictionChange.executed:
            earliest(case_id, FactKind.executed, eviction_date or recorded_on)
    if not dates:
        return []
    ids = {case_id for case_id, _ in dates}
    erased = await repository.erased_case_ids(ids)
    births: dict[str, list[date | None]] = defaultdict(list)
    for case_id, birth_date in await repository.birth_dates(ids - erased):
        births[case_id].append(birth_date)
    # A partner's count stands while staff have not recorded the members, as for has_minors (ADR 0013).
    reported: dict[str, int] = {row[0]: row[1] for row in await repository.reported_minors(ids - erased)}
    return [
        Fact(
            case_id=case_id,
            kind=kind,
            on=on,
            minors=max(sum(is_minor(born, on) for born in births[case_id]), reported.get(case_id, 0)),
        )
        for (case_id, kind), on in dates.items()
        if case_id not in erased
    ]


async def snapshot_facts(ctx: Context, case_ids: Collection[str]) -> None:
    """Before erasure (R18): keep each case's facts with their number of minors, nothing personal."""
    for fact in await live_facts(ctx, case_ids):
        ctx.session.add(StatisticsFact(case_id=fact.case_id, kind=fact.kind, occurred_on=fact.on, minors=fact.minors))


async def _facts(ctx: Context, first: date, last: date) -> list[Fact]:
    stored = [
        Fact(case_id=row.case_id, kind=row.kind, on=row.occurred_on, minors=row.minors)
        for row in await StatisticsRepository(ctx.session).stored_facts(first, last)
    ]
    live = [fact for fact in await live_facts(ctx) if first <= fact.on <= last]
    ctx.log_processing(activity=STATISTICS, case_id=None, operation=Operation.read)
    return stored + live


def _cell(value: int, households: int, min_cell: int) -> Cell:
    if 0 < value < min_cell or 0 < households < min_cell:
        return Cell(value=None, suppressed=True)
    return Cell(value=value)


def _grouped(facts: Iterable[Fact], period: Period) -> dict[tuple[date, FactKind], list[Fact]]:
    cells: dict[tuple[date, FactKind], list[Fact]] = defaultdict(list)
    for fact in facts:
        cells[(period_start(fact.on, period), fact.kind)].append(fact)
    return cells


async def children(ctx: Context, *, period: Period, first: date | None, last: date | None) -> ChildrenStatistics:
    first, last = _window(ctx, first, last, period)
    cells = _grouped(await _facts(ctx, first, last), period)
    min_cell = ctx.settings.statistics_min_cell

    def cell(start: date, kind: FactKind) -> Cell:
        with_minors = [fact for fact in cells[(start, kind)] if fact.minors > 0]
        return _cell(sum(fact.minors for fact in with_minors), len(with_minors), min_cell)

    rows = [
        ChildrenRow(
            period_start=start,
            threatened=cell(start, FactKind.threatened),
            averted=cell(start, FactKind.averted),
            executed=cell(start, FactKind.executed),
        )
        for start in periods(first, last, period)
    ]
    return ChildrenStatistics(period=period, first_day=first, last_day=last, min_cell=min_cell, rows=rows)


async def outcomes(ctx: Context, *, period: Period, first: date | None, last: date | None) -> OutcomesStatistics:
    first, last = _window(ctx, first, last, period)
    cells = _grouped(await _facts(ctx, first, last), period)
    min_cell = ctx.settings.statistics_min_cell

    def cell(start: date, kind: FactKind) -> Cell:
        count = len(cells[(start, kind)])
        return _cell(count, count, min_cell)

    rows = [
        OutcomesRow(
            period_start=start,
            threatened=cell(start, FactKind.threatened),
            averted=cell(start, FactKind.averted),
            executed=cell(start, FactKind.executed),
        )
        for start in periods(first, last, period)
    ]
    return OutcomesStatistics(period=period, first_day=first, last_day=last, min_cell=min_cell, rows=rows)


def percentile(values: list[int], fraction: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    return float(values[max(0, math.ceil(fraction * len(values)) - 1)])


async def first_contact(
    ctx: Context, *, period: Period, first: date | None, last: date | None
) -> FirstContactStatistics:
    first, last = _window(ctx, first, last, period)
    days: dict[date, list[int]] = defaultdict(list)
    for signal_on, contact_at in await StatisticsRepository(ctx.session).first_contacts(first, last):
        if signal_on is None or contact_at is None:
            continue
        days[period_start(signal_on, period)].append(max(0, (ctx.calendar.local_date(contact_at) - signal_on).days))
    ctx.log_processing(activity=STATISTICS, case_id=None, operation=Operation.read)
    min_cell = ctx.settings.statistics_min_cell
    rows = []
    for start in periods(first, last, period):
        values = sorted(days[start])
        if 0 < len(values) < min_cell:
            hidden = FloatCell(value=None, suppressed=True)
            rows.append(
                FirstContactRow(
                    period_start=start, count=Cell(value=None, suppressed=True), median_days=hidden, p90_days=hidden
                )
            )
            continue
        rows.append(
            FirstContactRow(
                period_start=start,
                count=Cell(value=len(values)),
                median_days=FloatCell(value=float(stats.median(values)) if values else None),
                p90_days=FloatCell(value=percentile(values, 0.9) if values else None),
            )
        )
    return FirstContactStatistics(period=period, first_day=first, last_day=last, min_cell=min_cell, rows=rows)
