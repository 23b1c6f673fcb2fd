"""Working days in Europe/Amsterdam for the deadline rules R4-R7 (deadlines/calendar.py)."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfoNotFoundError

import pytest

from case_api.config import Settings
from case_api.deadlines import WorkingDayCalendar, calendar_from_settings, countdown_dates

CALENDAR = WorkingDayCalendar()  # the default policy: 5 May every year, Good Friday a working day


# --- R4: after a signal, first contact within 5 working days, an offer of help within 20 ------------------------


def test_r4_first_contact_after_a_friday_signal_skips_the_weekend() -> None:
    signal = date(2026, 3, 6)  # Friday
    assert CALENDAR.add_working_days(signal, 5) == date(2026, 3, 13)  # the next Friday


def test_r4_first_contact_across_koningsdag() -> None:
    signal = date(2026, 4, 23)  # Thursday; Monday 27 April 2026 is Koningsdag
    assert CALENDAR.add_working_days(signal, 5) == date(2026, 5, 1)


def test_r4_first_contact_across_christmas_and_new_year() -> None:
    signal = date(2026, 12, 24)  # Thursday; Friday 25 Dec and Friday 1 Jan are holidays
    assert CALENDAR.add_working_days(signal, 5) == date(2027, 1, 4)
    assert CALENDAR.working_days_between(signal, date(2027, 1, 4)) == 5


def test_r4_offer_of_help_in_20_working_days_lands_on_good_friday_a_working_day() -> None:
    signal = date(2026, 3, 6)
    assert CALENDAR.add_working_days(signal, 20) == date(2026, 4, 3)  # Goede Vrijdag
    # A municipality that closes on Good Friday moves it past Easter Monday.
    assert WorkingDayCalendar(good_friday=True).add_working_days(signal, 20) == date(2026, 4, 7)


def test_r4_liberation_day_policy() -> None:
    signal = date(2026, 4, 30)  # Thursday; Tuesday 5 May 2026 is Bevrijdingsdag, not a lustrum year
    assert CALENDAR.add_working_days(signal, 5) == date(2026, 5, 8)
    assert WorkingDayCalendar(liberation_day="lustrum").add_working_days(signal, 5) == date(2026, 5, 7)
    assert WorkingDayCalendar(liberation_day="never").add_working_days(signal, 5) == date(2026, 5, 7)
    # 2025 is a lustrum year (80 years of liberation): Monday 5 May is off under "lustrum" too.
    assert not WorkingDayCalendar(liberation_day="lustrum").is_working_day(date(2025, 5, 5))
    assert WorkingDayCalendar(liberation_day="never").is_working_day(date(2025, 5, 5))


# --- R5: in a threatening situation, first contact within 3 working days ----------------------------------------


def test_r5_threat_first_contact_after_a_summons_before_whit_monday() -> None:
    summons_served = date(2026, 5, 22)  # Friday; Monday 25 May 2026 is Tweede Pinksterdag
    assert CALENDAR.add_working_days(summons_served, 3) == date(2026, 5, 28)


def test_r5_threat_first_contact_across_ascension_day_counts_the_bridge_friday() -> None:
    crisis_signal = date(2026, 5, 13)  # Wednesday; Thursday 14 May 2026 is Hemelvaartsdag
    assert CALENDAR.add_working_days(crisis_signal, 3) == date(2026, 5, 19)


# --- R6: the assessment is due 5 working days before the eviction date ------------------------------------------


def test_r6_assessment_before_an_eviction_that_follows_easter_monday() -> None:
    eviction = date(2026, 4, 7)  # Tuesday after Tweede Paasdag
    assert CALENDAR.subtract_working_days(eviction, 5) == date(2026, 3, 30)
    assert WorkingDayCalendar(good_friday=True).subtract_working_days(eviction, 5) == date(2026, 3, 27)


def test_r6_assessment_before_an_eviction_that_follows_ascension_day() -> None:
    eviction = date(2026, 5, 19)  # Tuesday; Thursday 14 May 2026 is Hemelvaartsdag
    assert CALENDAR.subtract_working_days(eviction, 5) == date(2026, 5, 11)


def test_r6_the_assessment_is_overdue_from_local_midnight_after_the_due_date() -> None:
    due = CALENDAR.subtract_working_days(date(2026, 4, 7), 5)  # Monday 30 March, summer time (UTC+2)
    assert CALENDAR.overdue_at(due) == datetime(2026, 3, 30, 22, 0, tzinfo=UTC)
    assert not CALENDAR.is_overdue(due, datetime(2026, 3, 30, 21, 59, 59, tzinfo=UTC))
    assert CALENDAR.is_overdue(due, datetime(2026, 3, 30, 22, 0, tzinfo=UTC))
    # In winter time the same rule is an hour later in UTC.
    assert CALENDAR.overdue_at(date(2026, 1, 15)) == datetime(2026, 1, 15, 23, 0, tzinfo=UTC)


# --- R7: reminders on a clock of calendar days before the eviction date -----------------------------------------


def test_r7_countdown_is_in_calendar_days_not_moved_off_weekends() -> None:
    eviction = date(2026, 6, 16)  # Tuesday
    settings = Settings(_env_file=None)
    assert countdown_dates(eviction, settings.countdown_days) == [
        date(2026, 6, 2),
        date(2026, 6, 9),
        date(2026, 6, 14),  # T-2 is a Sunday and stays one
    ]


def test_r7_a_postponed_date_recomputes_the_countdown_and_the_assessment() -> None:
    postponed = date(2026, 5, 19)
    assert countdown_dates(postponed, (14, 7, 2)) == [date(2026, 5, 5), date(2026, 5, 12), date(2026, 5, 17)]
    assert CALENDAR.subtract_working_days(postponed, 5) == date(2026, 5, 11)


# --- local dates across midnight UTC and daylight saving time ---------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "local"),
    [
        # Summer time (UTC+2): 22:00 UTC is already the next day in Amsterdam.
        (datetime(2026, 7, 1, 21, 59, tzinfo=UTC), date(2026, 7, 1)),
        (datetime(2026, 7, 1, 22, 0, tzinfo=UTC), date(2026, 7, 2)),
        (datetime(2026, 7, 1, 23, 30, tzinfo=UTC), date(2026, 7, 2)),
        # Winter time (UTC+1): only from 23:00 UTC.
        (datetime(2026, 1, 15, 22, 30, tzinfo=UTC), date(2026, 1, 15)),
        (datetime(2026, 1, 15, 23, 0, tzinfo=UTC), date(2026, 1, 16)),
        # The night clocks go back (25 October 2026): 23:00 UTC is midnight CET.
        (datetime(2026, 10, 25, 22, 59, tzinfo=UTC), date(2026, 10, 25)),
        (datetime(2026, 10, 25, 23, 0, tzinfo=UTC), date(2026, 10, 26)),
        # The night clocks go forward (29 March 2026).
        (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), date(2026, 3, 29)),
        (datetime(2026, 3, 29, 21, 59, tzinfo=UTC), date(2026, 3, 29)),
        (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), date(2026, 3, 30)),
        # Any aware instant works, not only UTC.
        (datetime(2026, 7, 1, 18, 0, tzinfo=timezone(timedelta(hours=-5))), date(2026, 7, 2)),
    ],
)
def test_local_date_in_amsterdam(instant: datetime, local: date) -> None:
    assert CALENDAR.local_date(instant) == local


def test_local_date_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        CALENDAR.local_date(datetime(2026, 7, 1, 12, 0))  # naive on purpose


# --- the holidays themselves ------------------------------------------------------------------------------------


def test_dutch_holidays_2026() -> None:
    assert CALENDAR.holidays_in(2026) == {
        date(2026, 1, 1): "Nieuwjaarsdag",
        date(2026, 4, 5): "Eerste paasdag",
        date(2026, 4, 6): "Tweede paasdag",
        date(2026, 4, 27): "Koningsdag",
        date(2026, 5, 5): "Bevrijdingsdag",
        date(2026, 5, 14): "Hemelvaartsdag",
        date(2026, 5, 24): "Eerste pinksterdag",
        date(2026, 5, 25): "Tweede pinksterdag",
        date(2026, 12, 25): "Eerste kerstdag",
        date(2026, 12, 26): "Tweede kerstdag",
    }


def test_dutch_holidays_2027() -> None:
    assert CALENDAR.holidays_in(2027) == {
        date(2027, 1, 1): "Nieuwjaarsdag",
        date(2027, 3, 28): "Eerste paasdag",
        date(2027, 3, 29): "Tweede paasdag",
        date(2027, 4, 27): "Koningsdag",
        date(2027, 5, 5): "Bevrijdingsdag",
        date(2027, 5, 6): "Hemelvaartsdag",
        date(2027, 5, 16): "Eerste pinksterdag",
        date(2027, 5, 17): "Tweede pinksterdag",
        date(2027, 12, 25): "Eerste kerstdag",
        date(2027, 12, 26): "Tweede kerstdag",
    }
    assert date(2027, 3, 26) in WorkingDayCalendar(good_friday=True).holidays_in(2027)  # Goede Vrijdag
    assert date(2027, 5, 5) not in WorkingDayCalendar(liberation_day="lustrum").holidays_in(2027)


def test_koningsdag_on_a_sunday_is_celebrated_on_saturday_26_april() -> None:
    assert CALENDAR.holidays_in(2025)[date(2025, 4, 26)] == "Koningsdag"
    assert date(2025, 4, 27) not in CALENDAR.holidays_in(2025)
    assert CALENDAR.is_working_day(date(2025, 4, 28))  # nothing moves to the Monday


def test_weekends_holidays_and_bridge_days() -> None:
    assert not CALENDAR.is_working_day(date(2026, 3, 7))  # Saturday
    assert not CALENDAR.is_working_day(date(2026, 3, 8))  # Sunday
    assert not CALENDAR.is_working_day(date(2026, 4, 27))  # Koningsdag
    assert CALENDAR.is_working_day(date(2026, 5, 15))  # the Friday after Ascension Day: the municipality is open
    assert CALENDAR.is_working_day(date(2026, 4, 3))  # Goede Vrijdag, by default
    assert CALENDAR.is_working_day(date(2026, 12, 24))  # Christmas Eve


# --- counting, both ways ---------------------------------------------------------------------------------------


def test_zero_working_days_is_the_day_itself_and_negative_counts_are_refused() -> None:
    assert CALENDAR.add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 7)
    assert CALENDAR.subtract_working_days(date(2026, 3, 7), 0) == date(2026, 3, 7)
    with pytest.raises(ValueError, match="0 or more"):
        CALENDAR.add_working_days(date(2026, 3, 6), -1)
    with pytest.raises(ValueError, match="0 or more"):
        CALENDAR.subtract_working_days(date(2026, 3, 6), -1)


def test_a_signal_on_a_weekend_counts_from_the_next_working_day() -> None:
    assert CALENDAR.add_working_days(date(2026, 3, 7), 1) == date(2026, 3, 9)  # Saturday -> Monday
    assert CALENDAR.add_working_days(date(2026, 3, 8), 5) == date(2026, 3, 13)  # Sunday -> Friday


def test_working_days_between_counts_the_days_after_a_up_to_b() -> None:
    assert CALENDAR.working_days_between(date(2026, 3, 6), date(2026, 3, 6)) == 0
    assert CALENDAR.working_days_between(date(2026, 3, 6), date(2026, 3, 13)) == 5
    assert CALENDAR.working_days_between(date(2026, 3, 13), date(2026, 3, 6)) == -5
    assert CALENDAR.working_days_between(date(2026, 1, 1), date(2026, 12, 31)) == 254  # 261 weekdays less 7 holidays


@pytest.mark.parametrize("calendar", [CALENDAR, WorkingDayCalendar(liberation_day="never", good_friday=True)])
def test_adding_subtracting_and_counting_agree_over_two_years(calendar: WorkingDayCalendar) -> None:
    start = date(2026, 1, 1)
    for offset in range(0, 730, 3):
        day = start + timedelta(days=offset)
        for n in (0, 1, 2, 3, 5, 20):
            later = calendar.add_working_days(day, n)
            assert later == day or calendar.is_working_day(later)
            assert calendar.working_days_between(day, later) == n
            earlier = calendar.subtract_working_days(day, n)
            assert earlier == day or calendar.is_working_day(earlier)
            if calendar.is_working_day(day):
                assert calendar.subtract_working_days(later, n) == day
                assert calendar.add_working_days(earlier, n) == day


# --- construction ----------------------------------------------------------------------------------------------


def test_calendar_from_settings_follows_the_holiday_policy() -> None:
    settings = Settings(_env_file=None, working_day_liberation_day="never", working_day_good_friday=True)
    calendar = calendar_from_settings(settings)
    assert calendar.timezone.key == "Europe/Amsterdam"
    assert calendar.is_working_day(date(2026, 5, 5))
    assert not calendar.is_working_day(date(2026, 4, 3))


def test_unknown_time_zone_and_policy_are_refused() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        WorkingDayCalendar("Europe/Leeuwarden")
    with pytest.raises(ValueError, match="liberation_day"):
        WorkingDayCalendar(liberation_day="sometimes")  # type: ignore[arg-type]
