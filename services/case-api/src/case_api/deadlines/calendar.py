"""case-api's working-day calendar: service_kit.calendar (which days count, and why) configured by case-api's
settings."""

from typing import TYPE_CHECKING

from service_kit.calendar import LiberationDay, WorkingDayCalendar, countdown_dates, working_day_calendar

if TYPE_CHECKING:
    from case_api.config import Settings

__all__ = ["LiberationDay", "WorkingDayCalendar", "calendar_from_settings", "countdown_dates"]


def calendar_from_settings(settings: "Settings") -> WorkingDayCalendar:
    return working_day_calendar(
        settings.working_day_timezone, settings.working_day_liberation_day, settings.working_day_good_friday
    )
