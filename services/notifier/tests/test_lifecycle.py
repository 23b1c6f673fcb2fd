"""The life of a notification on the real database: retries with a doubling backoff, permanent failures falling
back to the next channel or a caseworker, provider reports, notifications left `sending` by a stopped
dispatcher, and the notification.* events staged in the outbox (valid, and never an address or a text)."""

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from notifier_fixtures import MADE_UP_HOUSEHOLD

from eviction_schemas.registry import validate_cloud_event
from notifier.channels.base import HandOver, OutgoingMessage
from notifier.channels.file_outbox import FileOutboxChannel
from notifier.notifications import lifecycle
from notifier.notifications.choice import normalised_mobile
from notifier.notifications.lifecycle import Policy, apply_delivery_report
from notifier.notifications.models import Moment, Notification, Status
from notifier.notifications.repository import NotificationRepository
from notifier.notifications.service import fire_due_moments
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres


async def open_case(apply_events: Any, events: Any, helpers: Any) -> str:
    opened = events.opened(at=helpers.opened_at)
    await apply_events(opened)
    return str(opened.subject)


async def by_channel(ledger: Any, case_id: str, moment: Moment = Moment.signal) -> dict[str, Notification]:
    found = [n for n in await ledger.notifications(case_id) if n.moment is moment]
    return {n.channel: n for n in found}


async def report(sessions: Any, *, channel: str, reference: str, at: datetime, **outcome: Any) -> bool:
    values = {"delivered": True, "permanent": False, "reason_code": "", **outcome}
    async with sessions() as session, session.begin():
        return await apply_delivery_report(
            session,
            channel=channel,
            provider_reference=reference,
            clock=FixedClock(at),
            policy=Policy(oin="00000001234567890000", topic="eviction-prevention.notification-events.v1"),
            **values,
        )


# ---------------------------------------------------------------------------------------------- failures


async def test_a_temporary_failure_is_retried_with_a_doubling_backoff_until_the_attempts_run_out(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    channels = helpers.recording_channels()
    channels["email"].fail_always(permanent=False, reason="smtp_421")
    policy = Policy(oin=helpers.policy.oin, topic=helpers.policy.topic, max_attempts=4, retry_base_seconds=60)
    dispatcher = make_dispatcher(channels=channels, policy=policy)

    now = helpers.opened_at
    await dispatcher.run_once(now)
    email_id = (await by_channel(ledger, case_id))["email"].id
    for attempt, backoff in ((1, 60), (2, 120), (3, 240)):
        email = await ledger.notification(email_id)
        assert (email.status, email.attempts, email.reason) == (Status.temporary_failure, attempt, "smtp_421")
        assert email.due_at == now + timedelta(seconds=backoff)  # base * 2^(attempt - 1)
        # Not a second before it is due.
        await dispatcher.run_once(email.due_at - timedelta(seconds=1))
        assert channels["email"].ids.count(email_id) == attempt
        now = email.due_at
        await dispatcher.run_once(now)
        assert channels["email"].ids.count(email_id) == attempt + 1

    gave_up = await ledger.notification(email_id)
    assert (gave_up.status, gave_up.attempts, gave_up.reason) == (Status.permanent_failure, 4, "smtp_421_gave_up")
    assert [(a.attempt, a.status) for a in await ledger.attempts(email_id)] == [
        (1, Status.requested),
        (1, Status.temporary_failure),
        (2, Status.temporary_failure),
        (3, Status.temporary_failure),
        (4, Status.permanent_failure),
    ]
    failed = [e.data for e in await ledger.outbox_events("notification.failed")]
    assert [(d["attempt"], d["permanent"], d["reason_code"]) for d in failed] == [
        (1, False, "smtp_421"),
        (2, False, "smtp_421"),
        (3, False, "smtp_421"),
        (4, True, "smtp_421_gave_up"),
    ]
    # Letter and SMS of M1 went out already: the fallback is a caseworker.
    fallback = (await by_channel(ledger, case_id))["caseworker_task"]
    assert (fallback.fallback_of, fallback.status, fallback.facts["task_kind"]) == (
        email_id,
        Status.requested,
        "home_visit",
    )
    # Given up is given up: later rounds do not try the e-mail again.
    await dispatcher.run_once(now + timedelta(days=1))
    assert channels["email"].ids.count(email_id) == 4


async def test_only_messages_that_left_are_reported_sent(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any
) -> None:
    """case-api records a contact attempt for each notification.sent (or .delivered): a message that bounced, is
    still waiting for a retry and then cancelled, or was never possible for want of an address has none."""
    case_id = await open_case(apply_events, events, helpers)
    no_mobile = await open_case(apply_events, events, helpers)
    channels = helpers.recording_channels()
    channels["email"].fail_always(permanent=True, reason="bounced")
    channels["sms"].fail_always(permanent=False, reason="provider_busy")
    households = {case_id: helpers.household(), no_mobile: helpers.household(mobile=None)}

    class Contacts:
        async def household(self, asked: str) -> Any:
            return households[asked]

    dispatcher = make_dispatcher(channels=channels, contacts=Contacts())
    await dispatcher.run_once(helpers.opened_at)
    await apply_events(events.closed(case_id, at=helpers.opened_at + timedelta(seconds=30)))  # the SMS waited
    await dispatcher.run_once(helpers.opened_at + timedelta(hours=1))

    sent = {e.data["notification_id"] for e in await ledger.outbox_events("notification.sent")}
    status_of = {n.id: (n.case_id, n.channel, n.status) for c in households for n in await ledger.notifications(c)}
    assert {status_of[n] for n in sent} == {
        (case_id, "letter", Status.sent),
        (no_mobile, "letter", Status.sent),
        (no_mobile, "caseworker_task", Status.sent),  # the fallback of its bounced e-mail (case-api skips tasks)
    }
    assert {status_of[n][1:] for n in status_of if n not in sent} == {
        ("email", Status.permanent_failure),
        ("sms", Status.cancelled),
        ("caseworker_task", Status.cancelled),  # the bounced e-mail's fallback, asked for before the case closed
    }
    assert "sms" not in {channel for owner, channel, _ in status_of.values() if owner == no_mobile}
    sms_ids = [n for n in status_of if status_of[n][1] == "sms"]
    assert [
        e for e in await ledger.outbox_events("notification.delivered") if e.data["notification_id"] in sms_ids
    ] == []


async def test_a_permanent_sms_failure_in_m1_falls_back_to_a_caseworker_when_every_written_channel_was_used(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, channels: Any, ledger: Any, sessions: Any
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    other_case = await open_case(apply_events, events, helpers)
    await fire(sessions, helpers, helpers.opened_at)
    failing = (await by_channel(ledger, case_id))["sms"]
    channels["sms"].fail(failing.id, permanent=True, reason="invalid_number")  # this household's number only
    await dispatcher.dispatch_due(helpers.opened_at)

    m1 = await by_channel(ledger, case_id)
    assert (m1["sms"].status, m1["sms"].attempts) == (Status.permanent_failure, 1)
    assert (m1["letter"].status, m1["email"].status) == (Status.sent, Status.sent)
    task = m1["caseworker_task"]
    assert (task.fallback_of, task.status, task.reason) == (
        m1["sms"].id,
        Status.requested,
        "fallback after sms failed: invalid_number",
    )
    [requested] = [
        e for e in await ledger.outbox_events("notification.requested") if e.data["notification_id"] == task.id
    ]
    assert requested.data["channel"] == "caseworker_task"
    # The other household's SMS went out and needs no caseworker.
    assert {n.channel: n.status for n in (await by_channel(ledger, other_case)).values()} == {
        "letter": Status.sent,
        "sms": Status.sent,
        "email": Status.sent,
    }

    later = helpers.opened_at + timedelta(seconds=1)
    await dispatcher.run_once(later)
    [visit] = channels["caseworker_task"].messages
    assert (visit.notification_id, visit.case_id, visit.task_kind) == (task.id, case_id, "home_visit")
    assert visit.subject.startswith("Visit the household (M1")
    assert (await ledger.notification(task.id)).status is Status.sent
    # Once: neither the SMS nor the task is handed over again, no second fallback appears.
    await dispatcher.run_once(later + timedelta(hours=1))
    assert channels["sms"].ids.count(failing.id) == 1
    assert channels["caseworker_task"].ids == [task.id]
    assert len(await ledger.notifications(case_id)) == 4


async def test_a_permanent_failure_falls_back_to_the_next_written_channel_not_yet_used(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, channels: Any, ledger: Any
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    at_m2 = datetime(2026, 3, 9, 10, tzinfo=helpers.zone)
    await dispatcher.run_once(at_m2)  # M1 and M2: M2 takes the SMS ("SMS or e-mail") and a home visit
    m2 = await by_channel(ledger, case_id, Moment.no_contact)
    assert set(m2) == {"sms", "caseworker_task"}
    # The SMS provider reports the number unknown.
    assert await report(
        dispatcher.sessions,
        channel="sms",
        reference=m2["sms"].provider_reference,
        at=at_m2 + timedelta(minutes=1),
        delivered=False,
        permanent=True,
        reason_code="invalid_number",
    )

    m2 = await by_channel(ledger, case_id, Moment.no_contact)
    assert m2["sms"].status is Status.permanent_failure
    assert (m2["email"].fallback_of, m2["email"].status) == (m2["sms"].id, Status.requested)
    await dispatcher.run_once(at_m2 + timedelta(minutes=2))
    [email] = [m for m in channels["email"].messages if m.moment == "M2"]
    assert (email.notification_id, email.recipient) == (m2["email"].id, MADE_UP_HOUSEHOLD.email)


async def test_a_channel_without_an_address_is_no_fallback_a_caseworker_is(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    channels = helpers.recording_channels()
    channels["sms"].fail_always(permanent=True, reason="invalid_number")
    dispatcher = make_dispatcher(channels=channels, household=helpers.household(address_lines=()))
    for seconds in range(4):
        await dispatcher.run_once(helpers.opened_at + timedelta(seconds=seconds))

    m1 = await by_channel(ledger, case_id)
    assert "letter" not in m1, "the letter was skipped for want of an address, so it is no fallback either"
    assert channels["letter"].messages == []
    assert m1["caseworker_task"].fallback_of == m1["sms"].id
    assert channels["caseworker_task"].ids == [m1["caseworker_task"].id]


# ---------------------------------------------------------------------------------------------- provider reports


async def test_a_delivery_report_flips_a_sent_notification_to_delivered_once(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, ledger: Any, sessions: Any
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    await dispatcher.run_once(helpers.opened_at)
    sms = (await by_channel(ledger, case_id))["sms"]
    assert (sms.status, sms.provider_reference) == (Status.sent, f"rec-{sms.id}")
    delivered_at = helpers.opened_at + timedelta(seconds=8)

    assert await report(sessions, channel="sms", reference=sms.provider_reference, at=delivered_at)
    assert await report(sessions, channel="sms", reference=sms.provider_reference, at=delivered_at)

    delivered = await ledger.notification(sms.id)
    assert (delivered.status, delivered.delivered_at, delivered.sent_at) == (
        Status.delivered,
        delivered_at,
        helpers.opened_at,
    )
    [event] = await ledger.outbox_events("notification.delivered")
    assert event.data == {
        "notification_id": sms.id,
        "moment": "M1",
        "channel": "sms",
        "language": "nl",
        "attempt": 1,
        "provider_reference": f"rec-{sms.id}",
    }
    assert [a.status for a in await ledger.attempts(sms.id)] == [Status.requested, Status.sent, Status.delivered]


async def test_a_report_for_a_notification_stuck_in_sending_settles_it_as_sent_first(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any, sessions: Any
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    t0 = helpers.opened_at
    await fire(sessions, helpers, t0)
    sms = (await by_channel(ledger, case_id))["sms"]
    await leave_sending(sessions, sms.id, t0)  # the dispatcher stopped after handing it to the provider

    # The provider knows the message by the reference it was given: the notification id.
    assert await report(sessions, channel="sms", reference=sms.id, at=t0 + timedelta(seconds=5))

    settled = await ledger.notification(sms.id)
    assert (settled.status, settled.sent_at, settled.sending_since) == (
        Status.delivered,
        t0 + timedelta(seconds=5),
        None,
    )
    assert [a.status for a in await ledger.attempts(sms.id)] == [Status.requested, Status.sent, Status.delivered]
    assert [e.event_name for e in await ledger.outbox_events() if e.data["notification_id"] == sms.id] == [
        "notification.requested",
        "notification.sent",
        "notification.delivered",
    ]
    channels = helpers.recording_channels()
    channels["sms"].awaits_report = True
    await make_dispatcher(channels=channels).dispatch_due(t0 + timedelta(hours=1))
    assert sms.id not in channels["sms"].ids  # never handed over again


async def test_a_report_of_an_unknown_reference_changes_nothing(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, ledger: Any, sessions: Any
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    await dispatcher.run_once(helpers.opened_at)
    before = (await ledger.outbox(), await ledger.attempts())
    email = (await by_channel(ledger, case_id))["email"]

    assert not await report(sessions, channel="sms", reference="rec-no-such-message", at=helpers.opened_at)
    # A reference of another channel is not this channel's.
    assert not await report(sessions, channel="sms", reference=email.provider_reference, at=helpers.opened_at)

    assert (len(await ledger.outbox()), len(await ledger.attempts())) == (len(before[0]), len(before[1]))
    assert {n.status for n in await ledger.notifications(case_id)} == {Status.sent}


async def test_a_temporary_failure_report_is_retried_and_a_report_for_a_cancelled_one_is_ignored(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, channels: Any, ledger: Any, sessions: Any
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    await dispatcher.run_once(helpers.opened_at)
    sms = (await by_channel(ledger, case_id))["sms"]
    at = helpers.opened_at + timedelta(minutes=1)
    assert await report(
        sessions, channel="sms", reference=sms.provider_reference, at=at, delivered=False, reason_code="absent"
    )
    waiting = await ledger.notification(sms.id)
    assert (waiting.status, waiting.due_at) == (Status.temporary_failure, at + timedelta(seconds=60))

    await apply_events(events.closed(case_id, at=at + timedelta(seconds=1)))
    assert (await ledger.notification(sms.id)).status is Status.cancelled
    assert await report(sessions, channel="sms", reference=sms.provider_reference, at=at + timedelta(seconds=2))
    assert (await ledger.notification(sms.id)).status is Status.cancelled
    await dispatcher.run_once(at + timedelta(hours=1))
    assert channels["sms"].ids == [sms.id]


# ---------------------------------------------------------------------------------------------- left `sending`


async def fire(sessions: Any, helpers: Any, now: datetime) -> None:
    async with sessions() as session, session.begin():
        await fire_due_moments(
            session,
            contacts=helpers.StaticContacts(MADE_UP_HOUSEHOLD),
            now=now,
            quiet=helpers.quiet,
            policy=helpers.policy,
        )


async def leave_sending(sessions: Any, notification_id: str, now: datetime) -> None:
    """What a dispatcher killed after its claim leaves behind: `sending`, committed, never finished."""
    async with sessions() as session, session.begin():
        notification = await NotificationRepository(session).get(notification_id, for_update=True)
        assert notification is not None
        lifecycle.mark_sending(notification, now=now)


async def test_a_notification_left_sending_is_handed_over_again_after_the_lease_unless_a_report_may_settle_it(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any, sessions: Any
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    t0 = helpers.opened_at
    await fire(sessions, helpers, t0)
    m1 = await by_channel(ledger, case_id)
    for notification in m1.values():
        await leave_sending(sessions, notification.id, t0)
    channels = helpers.recording_channels()
    channels["sms"].awaits_report = True  # like an SMS provider: its report may still settle it
    dispatcher = make_dispatcher(
        channels=channels, sending_lease=timedelta(minutes=2), report_window=timedelta(minutes=15)
    )

    async def handed_at(at: datetime) -> list[str]:
        for channel in channels.values():
            channel.messages.clear()
        await dispatcher.dispatch_due(at)
        return sorted(name for name, channel in channels.items() if channel.messages)

    assert await handed_at(t0 + timedelta(minutes=2)) == []  # within the lease: maybe still on its way
    assert await handed_at(t0 + timedelta(minutes=2, seconds=1)) == ["email", "letter"]
    # The SMS waits for the provider's report until the window passed.
    assert await handed_at(t0 + timedelta(minutes=14, seconds=59)) == []
    assert await handed_at(t0 + timedelta(minutes=15, seconds=1)) == ["sms"]
    assert await handed_at(t0 + timedelta(hours=1)) == []

    for notification in await ledger.notifications(case_id):
        # The same attempt resumed, not a new one.
        assert (notification.status, notification.attempts) == (Status.sent, 1), notification.channel
        assert notification.sending_since is None


class StopsAfterHandOver:
    """Wraps a channel: hands the message over, then never returns (the process is killed before it commits)."""

    def __init__(self, channel: Any) -> None:
        self.name = channel.name
        self._channel = channel
        self.handed = asyncio.Event()

    async def send(self, message: OutgoingMessage) -> HandOver:
        await self._channel.send(message)
        self.handed.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_file_channel_killed_between_hand_over_and_commit_writes_its_message_once_after_the_lease(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any, tmp_path: Path
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    outbox = tmp_path / "outbox"
    files = {name: FileOutboxChannel(name, outbox) for name in ("email", "letter", "sms")}
    stopping = StopsAfterHandOver(files["email"])
    t0 = helpers.opened_at
    first = make_dispatcher(channels={**files, "email": stopping})
    await first.run_once(t0 - timedelta(seconds=1))  # nothing due yet: the moment stays pending
    assert await ledger.notifications(case_id) == []

    killed = asyncio.create_task(first.run_once(t0))
    await asyncio.wait_for(stopping.handed.wait(), 10)
    killed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await killed
    m1 = await by_channel(ledger, case_id)
    email = m1["email"]
    # The whole batch was claimed and committed as `sending` before anything left; its outcome never was.
    assert {n.status for n in m1.values()} == {Status.sending}
    assert f"{email.id}.eml" in [p.name for p in outbox.iterdir()]

    second = make_dispatcher(channels=files)  # the default lease: 5 minutes
    await second.dispatch_due(t0 + timedelta(minutes=4))
    assert (await ledger.notification(email.id)).status is Status.sending  # within the lease
    await second.dispatch_due(t0 + timedelta(minutes=6))

    assert {n.status for n in (await by_channel(ledger, case_id)).values()} == {Status.sent}
    # The same files, written again in place: still one message per notification.
    assert sorted(p.name for p in outbox.iterdir()) == sorted(
        [f"{email.id}.eml", f"{m1['letter'].id}.pdf", f"{m1['sms'].id}.sms.txt"]
    )


# ---------------------------------------------------------------------------------------------- the outbox


async def test_notification_events_in_the_outbox_follow_the_contract_and_hold_no_address_or_text(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, channels: Any, ledger: Any, sessions: Any
) -> None:
    case_id = await open_case(apply_events, events, helpers)
    await apply_events(events.scheduled(case_id, eviction_date=datetime(2026, 4, 14).date(), at=helpers.opened_at))
    channels["letter"].fail_always(permanent=True, reason="printer_refused")
    channels["email"].fail_always(permanent=False, reason="smtp_451")
    await dispatcher.run_once(helpers.opened_at)
    await dispatcher.run_once(helpers.opened_at + timedelta(seconds=1))  # the fallbacks go out
    sms = [n for n in await ledger.notifications(case_id) if n.channel == "sms"]
    for notification in sms:
        assert await report(sessions, channel="sms", reference=notification.provider_reference, at=helpers.opened_at)
    channels["email"].succeed()
    await dispatcher.run_once(datetime(2026, 3, 31, 10, tzinfo=helpers.zone))  # retries and the T-14 reminder

    rows = await ledger.outbox()
    names = {e.event_name for e in await ledger.outbox_events()}
    assert names == {"notification.requested", "notification.sent", "notification.failed", "notification.delivered"}
    texts = [m.subject for c in channels.values() for m in c.messages] + [
        line for c in channels.values() for m in c.messages for line in m.body.splitlines() if len(line) > 20
    ]
    personal = [
        MADE_UP_HOUSEHOLD.email,
        MADE_UP_HOUSEHOLD.mobile,
        normalised_mobile(MADE_UP_HOUSEHOLD.mobile),
        "+31600000000",
        "0031600000000",
        "0600000000",
        MADE_UP_HOUSEHOLD.full_name,
        MADE_UP_HOUSEHOLD.first_name,
        "Testhuis",
        *MADE_UP_HOUSEHOLD.address_lines,
    ]
    assert texts, "the channels were handed messages to compare with"
    for row in rows:
        event = validate_and_read(row)
        assert (row.topic, row.key, event.subject) == (helpers.policy.topic, case_id, case_id)
        assert event.source == "urn:nld:oin:00000001234567890000:systeem:notifier"
        payload = row.payload.decode()
        for value in [*personal, *texts]:
            assert value not in payload, f"{event.event_name} holds {value!r}"
    days = {e.data.get("days_before_eviction") for e in await ledger.outbox_events() if e.data["moment"] == "M5"}
    assert days == {14}


def validate_and_read(row: Any) -> Any:
    from eviction_schemas.envelope import CloudEvent

    event = CloudEvent.from_json_bytes(row.payload)
    validate_cloud_event(event)
    assert row.event_id == event.id
    return event
