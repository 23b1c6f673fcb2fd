"""The dispatcher on the real database: due moments become one notification per chosen channel (with the reasons
of the choice), due notifications are handed to their channels once, also with two dispatchers at once, and rows
another transaction holds are skipped, not waited for."""

import asyncio
import email
import email.policy
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from notifier_fixtures import MADE_UP_HOUSEHOLD
from sqlalchemy import select

from notifier.channels.base import HandOver, OutgoingMessage
from notifier.channels.file_outbox import FileOutboxChannel
from notifier.notifications.choice import normalised_mobile
from notifier.notifications.models import Moment, Notification, PlannedMoment, PlanStatus, Status

pytestmark = pytest.mark.postgres


def everything_handed(channels: dict[str, Any]) -> list[OutgoingMessage]:
    return [m for c in channels.values() for m in c.messages]


async def test_a_due_m1_becomes_one_notification_per_channel_handed_over_once(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, channels: Any, ledger: Any
) -> None:
    opened = events.opened()
    case_id = opened.subject
    await apply_events(opened)
    now = helpers.opened_at + timedelta(seconds=3)

    done = await dispatcher.run_once(now)

    assert done.handed == 3
    [decision] = await ledger.decisions(case_id)
    assert (decision.moment, decision.occasion, decision.language, decision.decided_at) == (
        Moment.signal,
        "",
        "nl",
        now,
    )
    assert decision.reasons == [
        {"channel": "letter", "chosen": True, "reason": "to the home address", "reachable": True},
        {"channel": "sms", "chosen": True, "reason": "Dutch mobile number recorded", "reachable": True},
        {"channel": "email", "chosen": True, "reason": "e-mail address recorded", "reachable": True},
    ]
    notifications = {n.channel: n for n in await ledger.notifications(case_id)}
    assert set(notifications) == {"letter", "sms", "email"}
    for channel, kind in (("letter", "home"), ("sms", "mobile"), ("email", "email")):
        sent = notifications[channel]
        assert (sent.moment, sent.language, sent.address_kind, sent.caused_by_event) == ("M1", "nl", kind, opened.id)
        assert (sent.status, sent.attempts, sent.sent_at) == (Status.sent, 1, now)
        assert sent.provider_reference == f"rec-{sent.id}"
        assert sent.template_version == "1"
        assert [a.status for a in await ledger.attempts(sent.id)] == [Status.requested, Status.sent]
    requested = await ledger.outbox_events("notification.requested")
    assert sorted(e.data["channel"] for e in requested) == ["email", "letter", "sms"]
    assert sorted(e.data["notification_id"] for e in await ledger.outbox_events("notification.sent")) == sorted(
        n.id for n in notifications.values()
    )

    [mail] = channels["email"].messages
    assert (mail.notification_id, mail.recipient, mail.language) == (
        notifications["email"].id,
        MADE_UP_HOUSEHOLD.email,
        "nl",
    )
    assert mail.subject == "Hulp bij betalingsproblemen: gratis en vertrouwelijk"
    assert mail.reference == case_id[:8].upper()
    [sms] = channels["sms"].messages
    assert sms.recipient == normalised_mobile(MADE_UP_HOUSEHOLD.mobile)
    [letter] = channels["letter"].messages
    assert letter.postal_address == (MADE_UP_HOUSEHOLD.full_name, *MADE_UP_HOUSEHOLD.address_lines)
    assert channels["caseworker_task"].messages == []

    # Later rounds hand nothing over again; M2 waits for its day.
    again = await dispatcher.run_once(now + timedelta(minutes=5))
    assert (again.handed, again.failed) == (0, 0)
    assert len(everything_handed(channels)) == 3
    assert len(await ledger.outbox_events("notification.requested")) == 3
    assert {(p.moment, p.status) for p in await ledger.planned(case_id)} == {
        (Moment.signal, PlanStatus.fired),
        (Moment.no_contact, PlanStatus.pending),
    }


async def test_the_local_file_outbox_gets_one_dutch_m1_email(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any, tmp_path: Path
) -> None:
    opened = events.opened()
    await apply_events(opened)
    outbox = tmp_path / "outbox"
    dispatcher = make_dispatcher(
        channels={"email": FileOutboxChannel("email", outbox)},
        household=helpers.household(mobile=None, address_lines=()),
    )

    await dispatcher.run_once(helpers.opened_at)
    await dispatcher.run_once(helpers.opened_at + timedelta(minutes=1))

    [requested] = await ledger.notifications(opened.subject)
    [written] = list(outbox.iterdir())
    assert written.name == f"{requested.id}.eml"
    message = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Hulp bij betalingsproblemen: gratis en vertrouwelijk"
    assert (message["X-Notification-Id"], message["X-Moment"], message["X-Template-Version"]) == (
        requested.id,
        "M1",
        "1",
    )
    text = message.get_body()
    assert text is not None
    body = text.get_content()
    assert body.startswith("Beste Jelle Testhuis,")
    assert "Bel ons vandaag nog op 14 0511." in body
    assert f"Kenmerk: {opened.subject[:8].upper()}" in body
    assert (requested.status, requested.attempts, requested.provider_reference) == (Status.sent, 1, written.name)


async def test_two_dispatchers_at_once_fire_each_moment_and_hand_each_notification_over_once(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any
) -> None:
    cases = [events.opened() for _ in range(20)]
    await apply_events(*cases)
    first, second = helpers.recording_channels(delay=0.005), helpers.recording_channels(delay=0.005)
    dispatchers = [make_dispatcher(channels=first), make_dispatcher(channels=second)]

    rounds = await asyncio.gather(*(d.run_once(helpers.opened_at) for d in dispatchers))
    # Whatever the first rounds left (a moment fired while the other dispatcher claimed) goes in the next ones.
    rounds += await asyncio.gather(*(d.run_once(helpers.opened_at) for d in dispatchers))

    handed = [m.notification_id for m in everything_handed(first) + everything_handed(second)]
    assert len(handed) == len(set(handed)) == 60
    assert sum(r.handed for r in rounds) == 60
    notifications = await ledger.notifications()
    assert sorted(handed) == sorted(n.id for n in notifications)
    assert {n.status for n in notifications} == {Status.sent}
    assert len(await ledger.decisions()) == 20
    assert len(await ledger.outbox_events("notification.requested")) == 60
    assert len(await ledger.outbox_events("notification.sent")) == 60
    assert {p.status for p in await ledger.planned() if p.moment is Moment.signal} == {PlanStatus.fired}


async def test_a_notification_another_transaction_holds_is_skipped_not_waited_for(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, channels: Any, ledger: Any, sessions: Any
) -> None:
    held_case, other_case = events.opened(), events.opened()
    await apply_events(held_case, other_case)
    await dispatcher.run_once(helpers.opened_at - timedelta(seconds=1))  # nothing due yet
    async with sessions() as session, session.begin():
        from notifier.notifications.service import fire_due_moments

        await fire_due_moments(
            session,
            contacts=helpers.StaticContacts(MADE_UP_HOUSEHOLD),
            now=helpers.opened_at,
            quiet=helpers.quiet,
            policy=helpers.policy,
        )
    held = {n.channel: n for n in await ledger.notifications(held_case.subject)}["email"]

    async with sessions() as holder, holder.begin():
        await holder.execute(select(Notification).where(Notification.id == held.id).with_for_update())
        done = await asyncio.wait_for(dispatcher.dispatch_due(helpers.opened_at), 10)
        assert done.handed == 5
        assert held.id not in [m.notification_id for m in everything_handed(channels)]
    assert (await ledger.notification(held.id)).status is Status.requested

    done = await dispatcher.dispatch_due(helpers.opened_at + timedelta(seconds=1))
    assert done.notifications == [held.id]
    assert [m.notification_id for m in everything_handed(channels)].count(held.id) == 1


async def test_a_moment_another_transaction_holds_is_skipped_not_waited_for(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, ledger: Any, sessions: Any
) -> None:
    held_case, other_case = events.opened(), events.opened()
    await apply_events(held_case, other_case)
    [held] = [p for p in await ledger.planned(held_case.subject) if p.moment is Moment.signal]

    async with sessions() as holder, holder.begin():
        await holder.execute(select(PlannedMoment).where(PlannedMoment.id == held.id).with_for_update())
        await asyncio.wait_for(dispatcher.run_once(helpers.opened_at), 10)
        assert {n.case_id for n in await ledger.notifications()} == {other_case.subject}
    assert {p.moment: p.status for p in await ledger.planned(held_case.subject)}[Moment.signal] is PlanStatus.pending

    await dispatcher.run_once(helpers.opened_at + timedelta(seconds=1))
    assert {n.case_id for n in await ledger.notifications()} == {held_case.subject, other_case.subject}
    assert len(await ledger.decisions(held_case.subject)) == 1


async def test_while_case_api_is_down_a_due_moment_waits_and_fires_later(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, channels: Any, ledger: Any
) -> None:
    opened = events.opened()
    await apply_events(opened, events.opened())
    down = helpers.UnavailableContacts()

    done = await make_dispatcher(channels=channels, contacts=down).run_once(helpers.opened_at)

    assert done.handed == 0
    assert down.asked == 1  # the round stops asking once case-api does not answer
    assert {p.status for p in await ledger.planned()} == {PlanStatus.pending}
    assert (await ledger.notifications(), await ledger.decisions(), await ledger.outbox()) == ([], [], [])
    assert everything_handed(channels) == []

    await make_dispatcher(channels=channels).run_once(helpers.opened_at + timedelta(minutes=1))
    assert len(everything_handed(channels)) == 6


async def test_a_household_case_api_does_not_know_cancels_the_moment(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, channels: Any, ledger: Any
) -> None:
    opened = events.opened()
    await apply_events(opened)
    await make_dispatcher(channels=channels, contacts=helpers.StaticContacts(None)).run_once(helpers.opened_at)

    m1 = {p.moment: p for p in await ledger.planned(opened.subject)}[Moment.signal]
    assert (m1.status, m1.reason, m1.settled_at) == (
        PlanStatus.cancelled,
        "the household is unknown or erased",
        helpers.opened_at,
    )
    assert await ledger.notifications() == []
    assert everything_handed(channels) == []


async def test_a_household_erased_before_hand_over_cancels_its_notifications_and_one_unreadable_is_retried(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, channels: Any, ledger: Any, sessions: Any
) -> None:
    erased, unreadable = events.opened(), events.opened()
    await apply_events(erased, unreadable)
    from notifier.notifications.service import fire_due_moments

    async with sessions() as session, session.begin():
        await fire_due_moments(
            session,
            contacts=helpers.StaticContacts(MADE_UP_HOUSEHOLD),
            now=helpers.opened_at,
            quiet=helpers.quiet,
            policy=helpers.policy,
        )

    class Contacts:
        async def household(self, case_id: str) -> Any:
            if case_id == unreadable.subject:
                raise ConnectionError("case-api is down")
            return None

    await make_dispatcher(channels=channels, contacts=Contacts()).dispatch_due(helpers.opened_at)

    assert everything_handed(channels) == []
    gone = await ledger.notifications(erased.subject)
    assert {(n.status, n.reason) for n in gone} == {(Status.cancelled, "the household is unknown or erased")}
    waiting = await ledger.notifications(unreadable.subject)
    assert {(n.status, n.reason, n.attempts) for n in waiting} == {
        (Status.temporary_failure, "contacts_unavailable", 1)
    }
    assert {n.due_at for n in waiting} == {helpers.opened_at + timedelta(seconds=60)}


async def test_without_a_template_in_the_household_s_language_it_is_written_in_dutch(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, channels: Any, ledger: Any
) -> None:
    german, frisian = events.opened(), events.opened()
    await apply_events(german, frisian)

    class Contacts:
        async def household(self, case_id: str) -> Any:
            return helpers.household(language="de" if case_id == german.subject else "fy")

    await make_dispatcher(channels=channels, contacts=Contacts()).run_once(helpers.opened_at)

    [decision] = await ledger.decisions(german.subject)
    assert decision.language == "de"
    assert {"channel": "language", "chosen": False, "reason": "no de template for letter, sms, email: Dutch"} in (
        decision.reasons
    )
    assert {n.language for n in await ledger.notifications(german.subject)} == {"nl"}
    assert {n.language for n in await ledger.notifications(frisian.subject)} == {"fy"}
    subjects = {m.case_id: m.subject for m in channels["email"].messages}
    assert subjects[german.subject] == "Hulp bij betalingsproblemen: gratis en vertrouwelijk"
    assert subjects[frisian.subject] != subjects[german.subject]


async def test_an_sms_waits_for_the_end_of_the_quiet_hours_and_the_other_channels_do_not(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, channels: Any, ledger: Any
) -> None:
    late = datetime(2026, 3, 2, 22, 30, tzinfo=helpers.zone)
    opened = events.opened(at=late)
    await apply_events(opened)

    await dispatcher.run_once(late)
    assert sorted(m.channel for m in everything_handed(channels)) == ["email", "letter"]
    sms = {n.channel: n for n in await ledger.notifications(opened.subject)}["sms"]
    assert (sms.status, sms.due_at) == (Status.requested, datetime(2026, 3, 3, 8, tzinfo=helpers.zone))

    await dispatcher.run_once(datetime(2026, 3, 3, 7, 59, 59, tzinfo=helpers.zone))
    assert channels["sms"].messages == []
    await dispatcher.run_once(datetime(2026, 3, 3, 8, tzinfo=helpers.zone))
    assert channels["sms"].ids == [sms.id]


async def test_an_sms_retry_that_falls_in_the_quiet_hours_is_deferred_to_their_end(
    apply_events: Any, events: Any, helpers: Any, dispatcher: Any, channels: Any, ledger: Any
) -> None:
    evening = datetime(2026, 3, 2, 20, 59, 30, tzinfo=helpers.zone)
    opened = events.opened(at=evening)
    await apply_events(opened)
    channels["sms"].fail_always(permanent=False)
    await dispatcher.run_once(evening)
    sms = {n.channel: n for n in await ledger.notifications(opened.subject)}["sms"]
    channels["sms"].succeed()

    done = await dispatcher.dispatch_due(sms.due_at)  # 21:00:30: quiet

    assert (done.handed, done.deferred) == (0, 1)
    deferred = await ledger.notification(sms.id)
    assert (deferred.status, deferred.due_at) == (
        Status.temporary_failure,
        datetime(2026, 3, 3, 8, tzinfo=helpers.zone),
    )
    assert channels["sms"].ids == [sms.id]
    await dispatcher.dispatch_due(datetime(2026, 3, 3, 8, tzinfo=helpers.zone))
    assert channels["sms"].ids == [sms.id, sms.id]


async def test_after_an_eviction_letters_go_to_the_mail_address_or_nowhere(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any
) -> None:
    executed_at = datetime(2026, 4, 14, 11, tzinfo=helpers.zone)
    with_mail, without = events.opened(), events.opened()
    for case in (with_mail, without):
        await apply_events(events.executed(case.subject, executed_on=date(2026, 4, 14), at=executed_at))
    mail_address = ("Postbus 12", "8900 AA Proefdam")
    channels = helpers.recording_channels()

    class Contacts:
        async def household(self, case_id: str) -> Any:
            lines = mail_address if case_id == with_mail.subject else ()
            return helpers.household(evicted=True, mail_address_lines=lines)

    await make_dispatcher(channels=channels, contacts=Contacts()).run_once(executed_at)

    [letter] = channels["letter"].messages
    assert (letter.case_id, letter.postal_address) == (
        with_mail.subject,
        (MADE_UP_HOUSEHOLD.full_name, *mail_address),
    )
    assert {n.channel: n.address_kind for n in await ledger.notifications(with_mail.subject)}["letter"] == (
        "mail_address"
    )
    assert sorted(n.channel for n in await ledger.notifications(without.subject)) == [
        "caseworker_task",
        "email",
        "sms",
    ]
    assert sorted(m.case_id for m in channels["caseworker_task"].messages) == sorted(
        [with_mail.subject, without.subject]
    )


async def test_a_letter_asked_for_before_the_eviction_never_goes_to_the_old_home_address_after_it(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any
) -> None:
    """The address is read at each hand-over: an M4 letter that waited for a retry and is tried again after the
    eviction goes to the mail address when one is recorded by then, and else nowhere (the caseworker visits)."""
    scheduled_at = datetime(2026, 3, 2, 11, tzinfo=helpers.zone)
    with_mail, without = events.opened(), events.opened()
    for case in (with_mail, without):
        await apply_events(events.scheduled(case.subject, eviction_date=date(2026, 4, 14), at=scheduled_at))
    mail_address = ("Postbus 12", "8900 AA Proefdam")
    at_home = helpers.household()
    evicted: dict[str, Any] = {}

    class Contacts:
        async def household(self, case_id: str) -> Any:
            return evicted.get(case_id, at_home)

    channels = helpers.recording_channels()
    channels["letter"].fail_always(permanent=False)
    dispatcher = make_dispatcher(channels=channels, contacts=Contacts())
    await dispatcher.run_once(scheduled_at)  # the letters wait for a retry; e-mail and SMS went
    channels["letter"].succeed()
    channels["letter"].messages.clear()
    evicted[with_mail.subject] = helpers.household(evicted=True, address_lines=(), mail_address_lines=mail_address)
    evicted[without.subject] = helpers.household(evicted=True, address_lines=())

    await dispatcher.run_once(scheduled_at + timedelta(hours=1))

    [letter] = channels["letter"].messages
    assert (letter.case_id, letter.postal_address) == (with_mail.subject, (MADE_UP_HOUSEHOLD.full_name, *mail_address))
    [no_letter] = [n for n in await ledger.notifications(without.subject) if n.channel == "letter"]
    assert (no_letter.status, no_letter.reason) == (Status.permanent_failure, "no_address")
    assert not any(line in str(m.postal_address) for m in channels["letter"].messages for line in at_home.address_lines)


class CommitPointChannel:
    """An e-mail channel with SMTP's last step: it calls the commit point, then says what the relay answered."""

    name = "email"

    def __init__(self, status_at_commit: Callable[[str], Awaitable[Status]], answer: HandOver) -> None:
        self._status_of = status_at_commit
        self._answer = answer
        self.before: list[Status] = []
        self.after: list[Status] = []

    async def send(self, message: OutgoingMessage) -> HandOver:
        raise AssertionError("the dispatcher uses the commit point of a channel that has one")

    async def send_with_commit_point(
        self, message: OutgoingMessage, commit_point: Callable[[], Awaitable[None]]
    ) -> HandOver:
        self.before.append(await self._status_of(message.notification_id))
        await commit_point()
        self.after.append(await self._status_of(message.notification_id))
        return self._answer


async def test_a_commit_point_channel_is_recorded_as_sent_before_its_last_step_and_only_once(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any
) -> None:
    opened = events.opened()
    await apply_events(opened)

    async def status_of(notification_id: str) -> Status:
        return (await ledger.notification(notification_id)).status

    channel = CommitPointChannel(status_of, HandOver(accepted=True, provider_reference="<m1@proefdam.example>"))
    dispatcher = make_dispatcher(
        channels={"email": channel}, household=helpers.household(mobile=None, address_lines=())
    )
    await dispatcher.run_once(helpers.opened_at)

    assert (channel.before, channel.after) == ([Status.sending], [Status.sent])
    [sent] = await ledger.notifications(opened.subject)
    assert sent.status is Status.sent
    [event] = await ledger.outbox_events("notification.sent")
    assert event.data["notification_id"] == sent.id


async def test_a_refusal_after_the_commit_point_moves_the_notification_from_sent_to_a_failure(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any
) -> None:
    opened = events.opened()
    await apply_events(opened)

    async def status_of(notification_id: str) -> Status:
        return (await ledger.notification(notification_id)).status

    refused = HandOver(accepted=False, permanent=True, reason="smtp_554")
    channel = CommitPointChannel(status_of, refused)
    dispatcher = make_dispatcher(
        channels={"email": channel}, household=helpers.household(mobile=None, address_lines=())
    )
    await dispatcher.run_once(helpers.opened_at)

    by_channel = {n.channel: n for n in await ledger.notifications(opened.subject)}
    assert (by_channel["email"].status, by_channel["email"].reason) == (Status.permanent_failure, "smtp_554")
    [fallback] = [n for n in by_channel.values() if n.fallback_of == by_channel["email"].id]
    assert fallback.status is Status.requested
    assert [a.status for a in await ledger.attempts(by_channel["email"].id)] == [
        Status.requested,
        Status.sent,
        Status.permanent_failure,
    ]


class ChangingContacts:
    """case-api's answer for the case, as staff change the household between two reads."""

    def __init__(self, household: Any) -> None:
        self.now = household

    async def household(self, case_id: str) -> Any:
        return self.now


async def test_a_resend_speaks_the_household_s_language_and_uses_its_address_at_send_time(
    apply_events: Any, events: Any, helpers: Any, make_dispatcher: Any, ledger: Any, sessions: Any
) -> None:
    """M1 went out in Dutch to the home address; staff then record Frisian and a mail address. A caseworker's
    resend is rendered for the household as case-api gives it at send time, and its row says what was used
    (before, it copied the original's language and address kind: Dutch, "home")."""
    from notifier.notifications.service import resend
    from service_kit.auth import Principal

    opened = events.opened()
    await apply_events(opened)
    contacts = ChangingContacts(helpers.household(language="nl", mail_address_lines=()))
    channels = helpers.recording_channels()
    dispatcher = make_dispatcher(channels=channels, contacts=contacts)
    now = helpers.opened_at + timedelta(seconds=3)
    await dispatcher.run_once(now)
    letter = {n.channel: n for n in await ledger.notifications(opened.subject)}["letter"]
    assert (letter.language, letter.address_kind) == ("nl", "home")

    contacts.now = helpers.household(language="fy", mail_address_lines=("Postbus 9999", "8900 AA Leeuwarden"))
    async with sessions() as session, session.begin():
        original = await session.get(Notification, letter.id)
        principal = Principal(subject="caseworker-7", roles=frozenset({"outreach_worker"}), team=helpers.team)
        again = await resend(
            session, original=original, reason="household completed", principal=principal, now=now,
            policy=helpers.policy,
        )  # fmt: skip
        again_id = again.id
    await dispatcher.run_once(now + timedelta(seconds=1))

    resent = await ledger.notification(again_id)
    assert (resent.status, resent.language, resent.address_kind) == (Status.sent, "fy", "mail_address")
    [handed] = [m for m in channels["letter"].messages if m.notification_id == again_id]
    assert handed.language == "fy"
    assert handed.postal_address[1:] == ("Postbus 9999", "8900 AA Leeuwarden")
    assert "Bêste" in handed.body  # the Frisian letter
