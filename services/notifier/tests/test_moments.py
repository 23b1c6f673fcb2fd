"""Which moments a case event plans or cancels (moments.changes_for, pure), what apply_event makes of that in the
database, and the dispatcher firing time-based moments on an injected clock at 10:00 Amsterdam time."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from notifier.notifications.models import Moment, PlanStatus, Status
from notifier.notifications.moments import Cancelled, Changes, Planned, Timing, changes_for
from notifier.notifications.service import fire_due_moments
from service_kit.calendar import working_day_calendar
from service_kit.clock import FixedClock

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TIMING = Timing(calendar=working_day_calendar("Europe/Amsterdam"), send_hour=10)
EVICTION = date(2026, 4, 14)  # a Tuesday after the switch to summer time
COUNTDOWN = frozenset({Moment.countdown})


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=AMSTERDAM)


def countdown(eviction_date: date, *days: int) -> list[Planned]:
    return [
        Planned(
            Moment.countdown,
            local(*(eviction_date - timedelta(days=d)).timetuple()[:3], 10),
            f"T-{d}:{eviction_date.isoformat()}",
            {"eviction_date": eviction_date.isoformat(), "days_before_eviction": d},
        )
        for d in days
    ]


# ------------------------------------------------------------------------------------------ pure: changes_for


@pytest.mark.parametrize("opened_by", ["signal", "partner_message"])
def test_a_case_opened_from_a_signal_plans_m1_now_and_m2_at_10_local_on_the_fifth_working_day(
    events: Any, opened_by: str
) -> None:
    at = local(2026, 3, 2, 10, 30)  # Monday: the 5th working day after it is the next Monday
    event = events.opened(opened_by=opened_by, at=at)

    changes = changes_for(event, None, TIMING)

    assert changes == Changes(planned=(Planned(Moment.signal, at), Planned(Moment.no_contact, local(2026, 3, 9, 10))))
    assert changes.planned[1].due_at == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # 10:00 CET


def test_a_case_opened_by_staff_plans_nothing(events: Any) -> None:
    assert changes_for(events.opened(opened_by="staff"), None, TIMING) == Changes()


def test_m2_skips_the_weekend_and_a_public_holiday(events: Any) -> None:
    # Thursday 23 April 2026: Friday 24 (1), weekend, Koningsdag Monday 27, Tuesday 28 (2) ... Friday 1 May (5).
    changes = changes_for(events.opened(at=local(2026, 4, 23, 11)), None, TIMING)
    [_, no_contact] = changes.planned
    assert no_contact == Planned(Moment.no_contact, local(2026, 5, 1, 10))
    assert no_contact.due_at == datetime(2026, 5, 1, 8, 0, tzinfo=UTC)  # 10:00 CEST
    assert no_contact.due_at.astimezone(AMSTERDAM).date() != date(2026, 4, 30)  # 5 days not skipping Koningsdag


def test_m2_counts_from_the_local_day_the_case_was_opened_on(events: Any) -> None:
    # 23:30 UTC on Sunday is 00:30 on Monday in Amsterdam: counted from Monday, not from Sunday (Friday 6 March).
    changes = changes_for(events.opened(at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC)), None, TIMING)
    assert changes.planned[1].due_at == local(2026, 3, 9, 10)


def test_m2_keeps_10_local_across_the_switch_to_summer_time(events: Any) -> None:
    changes = changes_for(events.opened(at=local(2026, 3, 26, 10)), None, TIMING)  # CET, summer time from 29 March
    assert changes.planned[1].due_at == datetime(2026, 4, 2, 8, 0, tzinfo=UTC)


def test_reaching_the_household_cancels_m2_and_a_failed_attempt_does_not(events: Any) -> None:
    case_id = events.opened().subject
    reached = changes_for(events.contact_attempted(case_id, reached=True), None, TIMING)
    assert reached == Changes(cancelled=(Cancelled(frozenset({Moment.no_contact}), "the household was reached"),))
    assert changes_for(events.contact_attempted(case_id, reached=False), None, TIMING) == Changes()


def test_a_served_summons_plans_m3_now(events: Any) -> None:
    at = local(2026, 3, 10, 14)
    changes = changes_for(events.summons_served(None, served_on=date(2026, 3, 10), at=at), None, TIMING)
    assert changes == Changes(planned=(Planned(Moment.threat, at, "2026-03-10"),))


def test_a_scheduled_eviction_plans_m4_now_and_the_countdown_at_10_local(events: Any) -> None:
    at = local(2026, 3, 2, 10, 30)
    changes = changes_for(events.scheduled(None, eviction_date=EVICTION, at=at), None, TIMING)

    assert changes.planned == (
        Planned(Moment.date_set, at, "2026-04-14", {"eviction_date": "2026-04-14"}),
        *countdown(EVICTION, 14, 7, 2),
    )
    # 31 March, 7 and 12 April at 10:00 summer time (08:00 UTC).
    assert [p.due_at for p in changes.planned[1:]] == [
        datetime(2026, 3, 31, 8, tzinfo=UTC),
        datetime(2026, 4, 7, 8, tzinfo=UTC),
        datetime(2026, 4, 12, 8, tzinfo=UTC),
    ]
    # The countdown of any other date goes; this date's is kept.
    assert changes.cancelled == (
        Cancelled(
            COUNTDOWN,
            "the eviction date moved",
            keep_occasions=frozenset({"T-14:2026-04-14", "T-7:2026-04-14", "T-2:2026-04-14"}),
        ),
    )


@pytest.mark.parametrize(
    ("at", "left"),
    [
        (local(2026, 4, 5, 9), (7, 2)),  # T-9: T-14 is past
        (local(2026, 4, 7, 10), (7, 2)),  # T-7 at 10:00 exactly: still due
        (local(2026, 4, 7, 10, 1), (2,)),  # a minute later: T-7 is past
        (local(2026, 4, 12, 10, 1), ()),  # every reminder is past
        (local(2026, 4, 14, 7), ()),  # the day itself
    ],
)
def test_countdown_reminders_already_past_are_not_planned(events: Any, at: datetime, left: tuple[int, ...]) -> None:
    changes = changes_for(events.scheduled(None, eviction_date=EVICTION, at=at), None, TIMING)
    [date_set, *reminders] = changes.planned
    assert date_set.moment is Moment.date_set
    assert date_set.due_at == at
    assert reminders == countdown(EVICTION, *left)


def test_a_postponed_eviction_plans_m4_and_the_countdown_of_the_new_date_and_drops_the_others(events: Any) -> None:
    at = local(2026, 3, 31, 12)
    new_date = date(2026, 5, 12)
    changes = changes_for(events.postponed(None, eviction_date=new_date, previous=EVICTION, at=at), None, TIMING)
    assert changes.planned == (
        Planned(Moment.date_set, at, "2026-05-12", {"eviction_date": "2026-05-12"}),
        *countdown(new_date, 14, 7, 2),
    )
    [cancel] = changes.cancelled
    assert cancel.moments == COUNTDOWN
    assert cancel.keep_occasions == {"T-14:2026-05-12", "T-7:2026-05-12", "T-2:2026-05-12"}


def test_a_cancelled_eviction_plans_m6_and_cancels_the_countdown(events: Any) -> None:
    at = local(2026, 4, 1, 15)
    changes = changes_for(events.cancelled(None, eviction_date=EVICTION, at=at), None, TIMING)
    assert changes.planned == (Planned(Moment.averted, at, "2026-04-14", {"reason": "second_chance_agreement"}),)
    [cancel] = changes.cancelled
    assert (cancel.moments, cancel.keep_occasions) == (COUNTDOWN, frozenset())


def test_an_executed_eviction_plans_m7_and_cancels_the_countdown(events: Any) -> None:
    at = local(2026, 4, 14, 9)
    changes = changes_for(events.executed(None, executed_on=EVICTION, at=at), None, TIMING)
    assert changes.planned == (Planned(Moment.evicted, at),)
    [cancel] = changes.cancelled
    assert (cancel.moments, cancel.keep_occasions) == (COUNTDOWN, frozenset())


def belongings_message(message: str, due: datetime, reference: str = "INB-1") -> Planned:
    facts = {"retention_ends_on": "2026-07-14", "storage_reference": reference, "belongings_message": message}
    return Planned(Moment.belongings, due, f"{message}:{reference}", facts)


def test_stored_belongings_are_told_at_storage_three_weeks_before_the_end_and_at_the_end(events: Any) -> None:
    """R14: the household is told at storage, 3 weeks before the end and at the end; the later two at 10:00."""
    at = local(2026, 4, 14, 12)
    event = events.stored(None, stored_on=EVICTION, retention_ends_on=date(2026, 7, 14), reference="INB-1", at=at)
    assert changes_for(event, None, TIMING) == Changes(
        planned=(
            belongings_message("stored", at),
            belongings_message("reminder", local(2026, 6, 23, 10)),
            belongings_message("ended", local(2026, 7, 14, 10)),
        )
    )


def test_belongings_recorded_late_are_told_at_once_without_a_reminder_whose_time_passed(events: Any) -> None:
    late = events.stored(None, stored_on=EVICTION, retention_ends_on=date(2026, 7, 14), at=local(2026, 7, 1, 9))
    planned = changes_for(late, None, TIMING).planned
    assert [(p.facts["belongings_message"], p.due_at) for p in planned] == [
        ("stored", local(2026, 7, 1, 9)),
        ("ended", local(2026, 7, 14, 10)),
    ]
    ended = events.stored(None, stored_on=EVICTION, retention_ends_on=date(2026, 7, 14), at=local(2026, 7, 14, 11))
    [only] = changes_for(ended, None, TIMING).planned
    assert (only.facts["belongings_message"], only.due_at) == ("ended", local(2026, 7, 14, 11))


@pytest.mark.parametrize("kind", ["returned", "disposed"])
def test_returned_or_disposed_belongings_cancel_their_m8_messages_only(events: Any, kind: str) -> None:
    event = getattr(events, kind)(None, reference="INB-1", at=local(2026, 5, 1, 12))
    [cancel] = changes_for(event, None, TIMING).cancelled
    assert cancel.moments == {Moment.belongings}
    assert {o for o in ("stored:INB-1", "reminder:INB-1", "ended:INB-1", "INB-1") if cancel.applies_to(o)} == {
        "stored:INB-1",
        "reminder:INB-1",
        "ended:INB-1",
        "INB-1",  # a reminder planned before R14's three messages
    }
    assert not cancel.applies_to("reminder:INB-2"), "other goods keep their messages"
    assert changes_for(event, None, TIMING).planned == ()


def test_a_temporary_housing_decision_plans_m9_now(events: Any) -> None:
    at = local(2026, 4, 20, 16)
    event = events.housing_decided(None, granted=False, at=at)
    assert changes_for(event, None, TIMING) == Changes(
        planned=(Planned(Moment.housing_decision, at, event.id, {"granted": False}),)
    )


def test_a_closed_case_cancels_every_moment(events: Any) -> None:
    assert changes_for(events.closed(events.opened().subject), None, TIMING) == Changes(
        cancelled=(Cancelled(frozenset(Moment), "the case was closed"),)
    )


def test_an_event_without_a_moment_plans_and_cancels_nothing(events: Any) -> None:
    assert changes_for(events.make("oco.offered"), None, TIMING) == Changes()


# ------------------------------------------------------------------------------------------ apply_event on the database

pg = pytest.mark.postgres


def summary(planned: list[Any]) -> list[tuple[str, str, str]]:
    return [(p.moment.value, p.occasion, p.status.value) for p in planned]


@pg
async def test_applying_an_event_twice_plans_nothing_twice(apply_events: Any, ledger: Any, events: Any) -> None:
    opened = events.opened()
    scheduled = events.scheduled(opened.subject, eviction_date=EVICTION)
    await apply_events(opened, scheduled, opened, scheduled)

    assert sorted(summary(await ledger.planned(opened.subject))) == sorted(
        [
            ("M1", "", "pending"),
            ("M2", "", "pending"),
            ("M4", "2026-04-14", "pending"),
            ("M5", "T-14:2026-04-14", "pending"),
            ("M5", "T-7:2026-04-14", "pending"),
            ("M5", "T-2:2026-04-14", "pending"),
        ]
    )
    state = await ledger.case_state(opened.subject)
    assert (state.team, state.eviction_date, state.closed) == ("team-noord", EVICTION, False)


@pg
async def test_reaching_the_household_cancels_the_pending_m2_in_the_database(
    apply_events: Any, ledger: Any, events: Any
) -> None:
    reached, not_reached = events.opened(), events.opened()
    await apply_events(reached, not_reached)
    contact_at = local(2026, 3, 4, 15)
    await apply_events(
        events.contact_attempted(reached.subject, reached=True, at=contact_at),
        events.contact_attempted(not_reached.subject, reached=False, at=contact_at),
    )

    no_contact = {p.moment: p for p in await ledger.planned(reached.subject)}[Moment.no_contact]
    assert (no_contact.status, no_contact.reason, no_contact.settled_at) == (
        PlanStatus.cancelled,
        "the household was reached",
        contact_at,
    )
    assert {p.moment: p.status for p in await ledger.planned(not_reached.subject)}[Moment.no_contact] == (
        PlanStatus.pending
    )


@pg
async def test_a_postponed_eviction_replans_the_countdown_and_cancels_the_old_one_with_its_waiting_notifications(
    apply_events: Any, ledger: Any, events: Any, make_dispatcher: Any, helpers: Any
) -> None:
    case_id = events.opened().subject
    await apply_events(events.scheduled(case_id, eviction_date=EVICTION, at=local(2026, 3, 2, 10, 30)))
    channels = helpers.recording_channels()
    dispatcher = make_dispatcher(channels=channels)
    await dispatcher.run_once(local(2026, 3, 2, 10, 31))  # M4 goes out
    # T-14 of the old date: the e-mail goes out, the SMS provider is down so the SMS waits for its retry.
    channels["sms"].fail_always(permanent=False, reason="provider_unavailable")
    await dispatcher.run_once(local(2026, 3, 31, 10))
    old_t14 = {n.channel: n for n in await ledger.notifications(case_id) if n.occasion == "T-14:2026-04-14"}
    assert (old_t14["email"].status, old_t14["sms"].status) == (Status.sent, Status.temporary_failure)

    new_date = date(2026, 5, 12)
    postponed_at = local(2026, 3, 31, 12)
    await apply_events(events.postponed(case_id, eviction_date=new_date, previous=EVICTION, at=postponed_at))

    assert summary(await ledger.planned(case_id)) == [
        ("M4", "2026-04-14", "fired"),
        ("M5", "T-14:2026-04-14", "fired"),
        ("M4", "2026-05-12", "pending"),
        ("M5", "T-7:2026-04-14", "cancelled"),
        ("M5", "T-2:2026-04-14", "cancelled"),
        ("M5", "T-14:2026-05-12", "pending"),
        ("M5", "T-7:2026-05-12", "pending"),
        ("M5", "T-2:2026-05-12", "pending"),
    ]
    planned = {(p.moment, p.occasion): p for p in await ledger.planned(case_id)}
    assert planned[(Moment.countdown, "T-7:2026-04-14")].reason == "the eviction date moved"
    assert planned[(Moment.countdown, "T-14:2026-05-12")].due_at == local(2026, 4, 28, 10)
    now = {n.channel: n for n in await ledger.notifications(case_id) if n.occasion == "T-14:2026-04-14"}
    assert (now["sms"].status, now["sms"].reason) == (Status.cancelled, "the eviction date moved")
    assert [a.status for a in await ledger.attempts(now["sms"].id)][-1] == Status.cancelled
    assert now["email"].status == Status.sent  # what went out stays as it was
    assert (await ledger.case_state(case_id)).eviction_date == new_date

    # The cancelled SMS is never retried and the old date's reminders never go out.
    channels["sms"].succeed()
    before = len(channels["sms"].messages)
    await dispatcher.run_once(local(2026, 4, 7, 10))
    assert [m for m in channels["sms"].messages[before:] if m.notification_id == now["sms"].id] == []
    assert {n.occasion for n in await ledger.notifications(case_id) if n.moment is Moment.countdown} == {
        "T-14:2026-04-14"
    }


@pg
async def test_an_eviction_date_set_back_to_an_earlier_one_gets_its_countdown_again(
    apply_events: Any, ledger: Any, events: Any
) -> None:
    case_id = events.opened().subject
    later = date(2026, 5, 12)
    await apply_events(
        events.scheduled(case_id, eviction_date=EVICTION, at=local(2026, 3, 2, 10, 30)),
        events.postponed(case_id, eviction_date=later, previous=EVICTION, at=local(2026, 3, 3, 10)),
        # The postponement is withdrawn: the first date holds after all.
        events.postponed(case_id, eviction_date=EVICTION, previous=later, at=local(2026, 3, 4, 10)),
    )

    countdown_of = {p.occasion: p for p in await ledger.planned(case_id) if p.moment is Moment.countdown}
    for days in (14, 7, 2):
        back = countdown_of[f"T-{days}:2026-04-14"]
        assert (back.status, back.reason, back.settled_at) == (PlanStatus.pending, None, None), days
        assert back.due_at == local(*(EVICTION - timedelta(days=days)).timetuple()[:3], 10)
        moved = countdown_of[f"T-{days}:2026-05-12"]
        assert (moved.status, moved.reason) == (PlanStatus.cancelled, "the eviction date moved")
    assert (await ledger.case_state(case_id)).eviction_date == EVICTION


@pg
@pytest.mark.parametrize("ending", ["cancelled", "executed"])
async def test_an_ended_eviction_cancels_the_pending_countdown_and_plans_its_moment(
    apply_events: Any, ledger: Any, events: Any, dispatcher: Any, channels: Any, ending: str
) -> None:
    case_id = events.opened().subject
    await apply_events(events.scheduled(case_id, eviction_date=EVICTION, at=local(2026, 3, 2, 10, 30)))
    channels["sms"].fail_always(permanent=False)
    await dispatcher.run_once(local(2026, 3, 31, 10))  # M4 and T-14: the SMSes wait for a retry
    at = local(2026, 4, 1, 9)
    if ending == "cancelled":
        event, moment = events.cancelled(case_id, eviction_date=EVICTION, at=at), Moment.averted
    else:
        event, moment = events.executed(case_id, executed_on=EVICTION, at=at), Moment.evicted
    await apply_events(event)

    planned = {(p.moment, p.occasion): p for p in await ledger.planned(case_id)}
    assert planned[(Moment.countdown, "T-7:2026-04-14")].status is PlanStatus.cancelled
    assert planned[(Moment.countdown, "T-2:2026-04-14")].status is PlanStatus.cancelled
    assert planned[(Moment.countdown, "T-14:2026-04-14")].status is PlanStatus.fired
    [ended] = [p for p in planned.values() if p.moment is moment]
    assert (ended.status, ended.due_at) == (PlanStatus.pending, at)
    sms = {n.moment: n for n in await ledger.notifications(case_id) if n.channel == "sms"}
    assert sms[Moment.countdown].status is Status.cancelled
    assert sms[Moment.date_set].status is Status.temporary_failure  # only the countdown is cancelled
    state = await ledger.case_state(case_id)
    if ending == "cancelled":
        assert state.eviction_date is None
    else:
        assert state.evicted_on == EVICTION


@pg
@pytest.mark.parametrize("kind", ["returned", "disposed"])
async def test_returned_or_disposed_belongings_cancel_the_pending_m8(
    apply_events: Any, ledger: Any, events: Any, kind: str
) -> None:
    case_id = events.opened().subject
    await apply_events(
        events.stored(
            case_id,
            stored_on=EVICTION,
            retention_ends_on=date(2026, 7, 14),
            reference="INB-1",
            at=local(2026, 4, 14, 12),
        ),
        events.stored(
            case_id,
            stored_on=EVICTION,
            retention_ends_on=date(2026, 7, 14),
            reference="INB-2",
            at=local(2026, 4, 14, 13),
        ),
    )
    m8 = [p for p in await ledger.planned(case_id) if p.moment is Moment.belongings]
    assert {p.status for p in m8} == {PlanStatus.pending}
    assert len(m8) == 6
    await apply_events(getattr(events, kind)(case_id, reference="INB-1", at=local(2026, 5, 1, 12)))
    m8 = [p for p in await ledger.planned(case_id) if p.moment is Moment.belongings]
    assert {(p.occasion, p.status, p.reason) for p in m8} == {
        ("stored:INB-1", PlanStatus.cancelled, f"belongings.{kind}"),
        ("reminder:INB-1", PlanStatus.cancelled, f"belongings.{kind}"),
        ("ended:INB-1", PlanStatus.cancelled, f"belongings.{kind}"),
        ("stored:INB-2", PlanStatus.pending, None),
        ("reminder:INB-2", PlanStatus.pending, None),
        ("ended:INB-2", PlanStatus.pending, None),
    }


@pg
async def test_a_closed_case_cancels_everything_pending_and_plans_nothing_after(
    apply_events: Any, ledger: Any, events: Any, dispatcher: Any, channels: Any
) -> None:
    opened = events.opened()
    case_id = opened.subject
    await apply_events(opened, events.scheduled(case_id, eviction_date=EVICTION, at=local(2026, 3, 2, 10, 31)))
    channels["email"].fail_always(permanent=False)
    await dispatcher.run_once(local(2026, 3, 2, 10, 32))  # M1 and M4 fire; their e-mails wait for a retry
    closed_at = local(2026, 3, 3, 9)
    await apply_events(events.closed(case_id, at=closed_at))
    await apply_events(events.summons_served(case_id, served_on=date(2026, 3, 4), at=local(2026, 3, 4, 9)))

    planned = await ledger.planned(case_id)
    assert {p.moment for p in planned if p.status is PlanStatus.pending} == set()
    assert Moment.threat not in {p.moment for p in planned}
    assert {(p.moment, p.reason) for p in planned if p.status is PlanStatus.cancelled} == {
        (Moment.no_contact, "the case was closed"),
        (Moment.countdown, "the case was closed"),
    }
    emails = [n for n in await ledger.notifications(case_id) if n.channel == "email"]
    assert {(n.moment, n.status) for n in emails} == {
        (Moment.signal, Status.cancelled),
        (Moment.date_set, Status.cancelled),
    }
    assert (await ledger.case_state(case_id)).closed is True

    channels["email"].succeed()
    before = len(channels["email"].messages)
    await dispatcher.run_once(local(2026, 4, 7, 10))
    assert channels["email"].messages[before:] == []


# ---------------------------------------------------------------------------------- time-based moments fire on time


@pg
async def test_the_countdown_goes_out_at_10_local_on_its_day_and_not_a_second_before(
    apply_events: Any, ledger: Any, events: Any, dispatcher: Any, channels: Any, helpers: Any
) -> None:
    clock = FixedClock(local(2026, 3, 2, 10, 30))
    case_id = events.opened().subject
    await apply_events(events.scheduled(case_id, eviction_date=EVICTION, at=clock.now()))

    async def round_at(at: datetime) -> list[tuple[str, str, str]]:
        clock.set(at)
        for channel in channels.values():
            channel.messages.clear()
        await dispatcher.run_once(clock.now())
        return sorted((m.moment, m.channel, m.subject) for c in channels.values() for m in c.messages)

    assert {moment for moment, _, _ in await round_at(clock.now())} == {"M4"}
    assert await round_at(local(2026, 3, 31, 9, 59, 59)) == []
    assert [(m, c) for m, c, _ in await round_at(local(2026, 3, 31, 10))] == [("M5", "email"), ("M5", "sms")]
    assert await round_at(local(2026, 4, 7, 9, 59, 59)) == []

    t7 = await round_at(local(2026, 4, 7, 10))

    assert [(m, c) for m, c, _ in t7] == [("M5", "email"), ("M5", "sms")]
    countdown_sent = {
        n.occasion: n.channel for n in await ledger.notifications(case_id) if n.sent_at == local(2026, 4, 7, 10)
    }
    assert set(countdown_sent) == {"T-7:2026-04-14"}
    planned = {p.occasion: p.status for p in await ledger.planned(case_id) if p.moment is Moment.countdown}
    assert planned == {
        "T-14:2026-04-14": PlanStatus.fired,
        "T-7:2026-04-14": PlanStatus.fired,
        "T-2:2026-04-14": PlanStatus.pending,
    }
    # The reminder's date comes from the moment's facts (the e-mail names it).
    [email] = [m for c in channels.values() for m in c.messages if m.channel == "email"]
    assert "14 april 2026" in email.subject + email.body
    # Nothing fires twice: the same instant again hands over nothing.
    assert await round_at(local(2026, 4, 7, 10)) == []


@pg
async def test_r14_the_household_is_told_at_storage_three_weeks_before_the_end_and_at_the_end(
    apply_events: Any, ledger: Any, events: Any, make_dispatcher: Any, channels: Any, helpers: Any
) -> None:
    """An evicted household with a mail address: each R14 message by SMS, e-mail and a letter to the mail
    address, naming the recorded storage place, the goods' reference and the end date, at its moment."""
    evicted = helpers.household(
        evicted=True,
        address_lines=(),
        mail_address_lines=("Postbus 1234", "8900 CA Leeuwarden"),
        storage_place="Gemeentelijk depot Leeuwarden, Havenweg 3",
        storage_reference="DEP-2026-0077",
        retention_end=date(2026, 7, 14),
    )
    dispatcher = make_dispatcher(channels=channels, household=evicted)
    clock = FixedClock(local(2026, 4, 14, 12))
    case_id = events.opened().subject
    await apply_events(
        events.stored(
            case_id,
            stored_on=EVICTION,
            retention_ends_on=date(2026, 7, 14),
            reference="DEP-2026-0077",
            at=clock.now(),
        )
    )

    async def round_at(at: datetime) -> dict[str, Any]:
        clock.set(at)
        for channel in channels.values():
            channel.messages.clear()
        await dispatcher.run_once(clock.now())
        return {m.channel: m for c in channels.values() for m in c.messages}

    at_storage = await round_at(clock.now())
    assert set(at_storage) == {"sms", "email", "letter"}
    assert at_storage["letter"].postal_address == ("Jelle Testhuis", "Postbus 1234", "8900 CA Leeuwarden")
    for channel in ("email", "letter"):
        text = at_storage[channel].subject + at_storage[channel].body
        for fact in ("Gemeentelijk depot Leeuwarden, Havenweg 3", "DEP-2026-0077", "14 juli 2026"):
            assert fact in text, (channel, fact)
    assert "opgeslagen" in at_storage["sms"].body
    assert await round_at(local(2026, 6, 23, 9, 59)) == {}

    reminder = await round_at(local(2026, 6, 23, 10))
    assert set(reminder) == {"sms", "email", "letter"}
    assert reminder["email"].subject.startswith("Nog drie weken")
    assert "DEP-2026-0077" in reminder["email"].body
    assert await round_at(local(2026, 7, 14, 9, 59)) == {}

    at_end = await round_at(local(2026, 7, 14, 10))
    assert set(at_end) == {"sms", "email", "letter"}
    assert at_end["letter"].subject == "De bewaartijd van uw spullen is voorbij"
    assert "mogen nu worden verkocht of vernietigd" in at_end["letter"].body
    assert await round_at(local(2026, 7, 14, 10)) == {}, "nothing twice"
    occasions = {p.occasion: p.status for p in await ledger.planned(case_id) if p.moment is Moment.belongings}
    assert occasions == {
        "stored:DEP-2026-0077": PlanStatus.fired,
        "reminder:DEP-2026-0077": PlanStatus.fired,
        "ended:DEP-2026-0077": PlanStatus.fired,
    }


@pg
async def test_m2_fires_only_when_due_and_not_once_the_household_was_reached(
    apply_events: Any, ledger: Any, events: Any, dispatcher: Any, channels: Any
) -> None:
    quiet_case, reached_case = events.opened(), events.opened()
    await apply_events(quiet_case, reached_case)
    await dispatcher.run_once(local(2026, 3, 2, 10, 31))  # M1 of both
    await apply_events(events.contact_attempted(reached_case.subject, reached=True, at=local(2026, 3, 5, 11)))
    for channel in channels.values():
        channel.messages.clear()

    await dispatcher.run_once(local(2026, 3, 9, 9, 59))
    assert [m for c in channels.values() for m in c.messages] == []
    await dispatcher.run_once(local(2026, 3, 9, 10))

    handed = sorted((m.case_id, m.moment, m.channel) for c in channels.values() for m in c.messages)
    # "SMS or e-mail": the first possible (SMS), and a caseworker task for a home visit.
    assert handed == sorted([(quiet_case.subject, "M2", "sms"), (quiet_case.subject, "M2", "caseworker_task")])
    [task] = channels["caseworker_task"].messages
    assert task.task_kind == "home_visit"


@pg
async def test_fire_due_moments_leaves_moments_that_are_not_due(
    apply_events: Any, ledger: Any, events: Any, sessions: Any, helpers: Any
) -> None:
    opened = events.opened()
    await apply_events(opened)
    async with sessions() as session, session.begin():
        fired = await fire_due_moments(
            session,
            contacts=helpers.StaticContacts(helpers.household()),
            now=opened.time - timedelta(seconds=1),
            quiet=helpers.quiet,
            policy=helpers.policy,
        )
    assert fired == 0
    assert {p.status for p in await ledger.planned(opened.subject)} == {PlanStatus.pending}
    assert await ledger.notifications() == []
