"""Working days in Europe/Amsterdam: case-api's deadline rules R4-R7 and the notifier's "no contact after 5 working
days" (M2) count them alike. Pure functions of a date, no clock reads.

A due date is a local calendar date. Something is overdue once the local date is after its due date, so the
deadline runs to the end of the due date (midnight local time), not to office closing time.

Which days are not working days. The deadlines are the municipality's own norms (Wgs), met by municipal staff,
so the calendar follows the days the municipality is closed, not every day the law calls a holiday:

- Saturdays and Sundays.
- The Dutch public holidays as the `holidays` library's Netherlands calendar gives them: Nieuwjaarsdag,
  Eerste/Tweede Paasdag, Koningsdag (27 April, or Saturday 26 April when the 27th is a Sunday), Hemelvaartsdag,
  Eerste/Tweede Pinksterdag, Eerste/Tweede Kerstdag.
- Bevrijdingsdag (5 May) every year by default: the Cao Gemeenten (art. 6.6, since 2023) makes it a paid day off
  for all municipal staff every year, as the national government's CAO does. `liberation_day="lustrum"` gives
  the private-sector custom (only in years divisible by 5, what the library marks as public), `"never"` drops it.
- Goede Vrijdag is a working day by default: it is not one of the Cao Gemeenten's holidays and most employers are
  open. The Algemene termijnenwet (art. 3 lid 2) equates it with a holiday for statutory terms only;
  `good_friday=True` counts it as a holiday.
- Bridge days the Crown equates with holidays for statutory terms (Atw art. 3 lid 3, e.g. the Friday after
  Ascension Day) are working days: municipalities are open on them.
"""

import functools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import holidays

LiberationDay = Literal["every_year", "lustrum", "never"]

# Names in the library's Netherlands calendar, language pinned to Dutch so they do not follow the locale.
_EASTER_MONDAY = "Tweede paasdag"
_GOOD_FRIDAY = "Goede vrijdag"
_LIBERATION_DAY = "Bevrijdingsdag"
_ONE_DAY = timedelta(days=1)


class WorkingDayCalendar:
    """Working days in one time zone, Dutch public holidays excluded (see the module docstring for which)."""

    def __init__(
        self,
        timezone: str = "Europe/Amsterdam",
        *,
        liberation_day: LiberationDay = "every_year",
        good_friday: bool = False,
    ) -> None:
        if liberation_day not in get_args(LiberationDay):
            raise ValueError(f"liberation_day must be one of {', '.join(get_args(LiberationDay))}")
        self._zone = ZoneInfo(timezone)
        self._liberation_day: LiberationDay = liberation_day
        self._good_friday = good_friday
        self._by_year: dict[int, dict[date, str]] = {}

    @property
    def timezone(self) -> ZoneInfo:
        return self._zone

    def holidays_in(self, year: int) -> dict[date, str]:
        """The non-working holidays of one year (those on a weekend included), date to Dutch name."""
        return dict(self._holidays(year))

    def _holidays(self, year: int) -> dict[date, str]:
        if year not in self._by_year:
            self._by_year[year] = self._compute_holidays(year)
        return self._by_year[year]

    def _compute_holidays(self, year: int) -> dict[date, str]:
        public = holidays.country_holidays("NL", years=year, language="nl")
        # Goede Vrijdag and Bevrijdingsdag follow this calendar's policy, not the library's choice.
        days = {day: name for day, name in public.items() if name not in (_GOOD_FRIDAY, _LIBERATION_DAY)}
        if self._good_friday:
            days.update({day - 3 * _ONE_DAY: _GOOD_FRIDAY for day, name in public.items() if name == _EASTER_MONDAY})
        # 5 May is a holiday by law (Atw art. 3) since 1982; whether it is a day off is the CAO's choice.
        if year >= 1982 and (
            self._liberation_day == "every_year" or (self._liberation_day == "lustrum" and year % 5 == 0)
        ):
            days[date(year, 5, 5)] = _LIBERATION_DAY
        return dict(sorted(days.items()))

    def is_holiday(self, day: date) -> bool:
        return day in self._holidays(day.year)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start`; counting starts the day after it. n=0 gives `start` itself."""
        if n < 0:
            raise ValueError("n must be 0 or more; use subtract_working_days to count back")
        day = start
        while n:
            day += _ONE_DAY
            if self.is_working_day(day):
                n -= 1
        return day

    def subtract_working_days(self, end: date, n: int) -> date:
        """The n-th working day before `end`; counting starts the day before it. n=0 gives `end` itself."""
        if n < 0:
            raise ValueError("n must be 0 or more; use add_working_days to count forward")
        day = end
        while n:
            day -= _ONE_DAY
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Working days d with a < d <= b (negative when b is before a): add_working_days(a, n) == b gives n."""
        if b < a:
            return -self.working_days_between(b, a)
        return sum(1 for day in _days_after(a, b) if self.is_working_day(day))

    def local_date(self, instant: datetime) -> date:
        """The calendar date in this time zone at an aware instant (daylight saving time included)."""
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("local_date needs an aware datetime; naive times are ambiguous")
        return instant.astimezone(self._zone).date()

    def overdue_at(self, due: date) -> datetime:
        """The first instant at which something due on `due` is overdue: local midnight after the due date."""
        return datetime.combine(due + _ONE_DAY, time(0), tzinfo=self._zone)

    def is_overdue(self, due: date, instant: datetime) -> bool:
        """Overdue when the local date at `instant` is after the due date."""
        return self.local_date(instant) > due


def _days_after(a: date, b: date) -> Iterable[date]:
    day = a + _ONE_DAY
    while day <= b:
        yield day
        day += _ONE_DAY


def countdown_dates(eviction_date: date, days_before: Iterable[int]) -> list[date]:
    """R7: the reminder dates T-14, T-7, T-2 (calendar days, not working days) before an eviction date."""
    return [eviction_date - timedelta(days=days) for days in days_before]


@functools.lru_cache(maxsize=8)
def working_day_calendar(
    timezone: str = "Europe/Amsterdam", liberation_day: LiberationDay = "every_year", good_friday: bool = False
) -> WorkingDayCalendar:
    """One calendar per configuration for the process: building the holiday tables is not per-request work."""
    return WorkingDayCalendar(timezone, liberation_day=liberation_day, good_friday=good_friday)
