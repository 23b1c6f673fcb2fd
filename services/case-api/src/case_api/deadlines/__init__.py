"""Deadlines of the eviction-prevention process (R4-R7): working days in Europe/Amsterdam."""

from case_api.deadlines.calendar import LiberationDay, WorkingDayCalendar, calendar_from_settings, countdown_dates

__all__ = ["LiberationDay", "WorkingDayCalendar", "calendar_from_settings", "countdown_dates"]
