"""Which moments a case event plans or cancels (spec/notifications.md, "Moments"): pure functions of the event,
what the notifier knows of the case, the working-day calendar and the settings; no clock reads, no I/O.

An event plans a moment for an instant: now (the event's time) for M1, M3, M4, M6, M7 and M9; later for the
time-based ones, at the settings' send hour (local time) on their day:

- M2 no contact: 5 working days after the case was opened from a signal; cancelled once the household was reached.
- M5 countdown: T-14, T-7 and T-2 calendar days before the eviction date (those not already past); a new date
  replans them, a cancelled, averted or executed eviction cancels them.
- M8 belongings (R14: the household is told at storage, 3 weeks before the end and at the end): stored belongings
  plan three messages, one per occasion `stored:<ref>` (now), `reminder:<ref>` (3 weeks before the end of the
  13-week retention) and `ended:<ref>` (on the end day), with the fact `belongings_message` the template
  branches on. The eviction's own message, M7, names the goods too when they were recorded before it is sent.
  Returned or disposed belongings cancel what is still pending of theirs.
A closed case cancels everything still planned.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eviction_schemas.envelope import CloudEvent
from notifier.notifications.models import CaseState, Moment
from service_kit.calendar import WorkingDayCalendar

# M1 ("we noticed payment trouble") is for a case opened from a signal, received as one (signal) or as a
# partner's message (partner_message: arrears reported through the gateway; case.opened cannot tell that from a
# legal-track message, and a needless M1 costs less than a missed one). Staff opened it by hand: no M1.
M1_OPENED_BY = frozenset({"signal", "partner_message"})
NO_CONTACT_WORKING_DAYS = 5
COUNTDOWN_DAYS = (14, 7, 2)
BELONGINGS_REMINDER = timedelta(weeks=3)
# The M8 messages about stored belongings (R14), in the order they go out; the template branches on them.
BELONGINGS_MESSAGES = ("stored", "reminder", "ended")


@dataclass(frozen=True)
class Planned:
    moment: Moment
    due_at: datetime
    occasion: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cancelled:
    """Cancel what is still pending of `moments` (all occasions, or only `occasions`, but never
    `keep_occasions`)."""

    moments: frozenset[Moment]
    reason: str
    keep_occasions: frozenset[str] = frozenset()
    occasions: frozenset[str] | None = None

    def applies_to(self, occasion: str) -> bool:
        if occasion in self.keep_occasions:
            return False
        return self.occasions is None or occasion in self.occasions


@dataclass(frozen=True)
class Changes:
    planned: tuple[Planned, ...] = ()
    cancelled: tuple[Cancelled, ...] = ()


@dataclass(frozen=True)
class Timing:
    """When time-based moments go out: a local hour on their day, in the municipality's time zone."""

    calendar: WorkingDayCalendar
    send_hour: int = 10

    @property
    def zone(self) -> ZoneInfo:
        return self.calendar.timezone

    def at_send_hour(self, day: date) -> datetime:
        return datetime.combine(day, time(self.send_hour), tzinfo=self.zone)


def countdown_occasion(days_before: int, eviction_date: date) -> str:
    return f"T-{days_before}:{eviction_date.isoformat()}"


def _countdown(eviction_date: date, now: datetime, timing: Timing) -> list[Planned]:
    planned = []
    for days in COUNTDOWN_DAYS:
        due = timing.at_send_hour(eviction_date - timedelta(days=days))
        if due >= now:
            planned.append(
                Planned(
                    Moment.countdown,
                    due,
                    countdown_occasion(days, eviction_date),
                    {"eviction_date": eviction_date.isoformat(), "days_before_eviction": days},
                )
            )
    return planned


def _date_set(eviction_date: date, now: datetime, timing: Timing, *, facts: dict[str, Any]) -> Changes:
    """M4 for this date (a new date is told again), and the countdown of this date replacing any other."""
    countdown = _countdown(eviction_date, now, timing)
    return Changes(
        planned=(Planned(Moment.date_set, now, eviction_date.isoformat(), facts), *countdown),
        cancelled=(
            Cancelled(
                frozenset({Moment.countdown}),
                "the eviction date moved",
                keep_occasions=frozenset(p.occasion for p in countdown),
            ),
        ),
    )


def belongings_occasions(storage_reference: str) -> frozenset[str]:
    """Every occasion of the M8 messages about these goods (the bare reference: a reminder planned before R14's
    three messages)."""
    return frozenset({storage_reference, *(f"{message}:{storage_reference}" for message in BELONGINGS_MESSAGES)})


def _belongings_stored(storage_reference: str, retention_end: date, now: datetime, timing: Timing) -> Changes:
    """R14: told at storage (now), 3 weeks before the end and on the end day. Goods recorded late get the
    at-storage message at once and no reminder whose time has passed; goods recorded after their retention ended
    get only the end message, at once."""
    facts = {"retention_ends_on": retention_end.isoformat(), "storage_reference": storage_reference}

    def planned(message: str, due: datetime) -> Planned:
        return Planned(
            Moment.belongings, due, f"{message}:{storage_reference}", {**facts, "belongings_message": message}
        )

    end = planned("ended", max(timing.at_send_hour(retention_end), now))
    if timing.calendar.local_date(now) >= retention_end:
        return Changes(planned=(end,))
    messages = [planned("stored", now)]
    reminder_due = timing.at_send_hour(retention_end - BELONGINGS_REMINDER)
    if reminder_due > now:
        messages.append(planned("reminder", reminder_due))
    return Changes(planned=(*messages, end))


def changes_for(event: CloudEvent, state: CaseState | None, timing: Timing) -> Changes:
    """What `event` plans and cancels. `state` is the case as known before the event."""
    name = event.event_name
    data = event.data
    now = event.time
    ended_eviction = Cancelled(frozenset({Moment.countdown}), f"{name}: no eviction date to count down to")
    match name:
        case "case.opened":
            if data.get("opened_by") not in M1_OPENED_BY:
                return Changes()
            local_day = timing.calendar.local_date(now)
            no_contact = timing.at_send_hour(timing.calendar.add_working_days(local_day, NO_CONTACT_WORKING_DAYS))
            return Changes(planned=(Planned(Moment.signal, now), Planned(Moment.no_contact, no_contact)))
        case "contact.attempted":
            if data.get("reached") is True:
                return Changes(cancelled=(Cancelled(frozenset({Moment.no_contact}), "the household was reached"),))
            return Changes()
        case "legal.summons-served":
            return Changes(planned=(Planned(Moment.threat, now, str(data["served_on"])),))
        case "eviction.scheduled" | "eviction.postponed":
            eviction_date = date.fromisoformat(data["eviction_date"])
            return _date_set(eviction_date, now, timing, facts={"eviction_date": eviction_date.isoformat()})
        case "eviction.cancelled":
            return Changes(
                planned=(Planned(Moment.averted, now, str(data["eviction_date"]), {"reason": data["reason_code"]}),),
                cancelled=(ended_eviction,),
            )
        case "eviction.executed":
            return Changes(
                planned=(Planned(Moment.evicted, now),),
                cancelled=(ended_eviction,),
            )
        case "belongings.stored":
            retention_end = date.fromisoformat(data["retention_ends_on"])
            return _belongings_stored(str(data["storage_reference"]), retention_end, now, timing)
        case "belongings.returned" | "belongings.disposed":
            occasions = belongings_occasions(str(data["storage_reference"]))
            return Changes(cancelled=(Cancelled(frozenset({Moment.belongings}), name, occasions=occasions),))
        case "temporary-housing.decided":
            return Changes(planned=(Planned(Moment.housing_decision, now, event.id, {"granted": data["granted"]}),))
        case "case.closed":
            return Changes(cancelled=(Cancelled(frozenset(Moment), "the case was closed"),))
    return Changes()


def update_state(state: CaseState, event: CloudEvent) -> None:
    """Keep what the notifier knows of the case in line with `event` (no personal data)."""
    name = event.event_name
    data = event.data
    if name == "case.opened":
        state.team = data.get("team")
    elif name in {"eviction.scheduled", "eviction.postponed"}:
        state.eviction_date = date.fromisoformat(data["eviction_date"])
    elif name == "eviction.cancelled":
        state.eviction_date = None
    elif name == "eviction.executed":
        state.evicted_on = date.fromisoformat(data["executed_on"])
    elif name == "case.closed":
        state.closed = True
    state.updated_at = event.time
