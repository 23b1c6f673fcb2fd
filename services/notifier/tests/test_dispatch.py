"""Handing requested notifications to a channel: the local file outbox gets one Dutch M1 e-mail, once."""

import asyncio
import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from notifier.channels.base import HandOver, OutgoingMessage
from notifier.channels.file_outbox import FileOutboxChannel
from notifier.notifications.models import Status
from notifier.notifications.service import dispatch_requested, request_for_event
from notifier.templating.context import NoContacts, PlaceholderContacts
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

OPENED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


async def test_dispatch_writes_one_dutch_m1_email_and_marks_it_sent_only_once(
    sessions: Any, ledger: Any, new_case_opened: Any, tmp_path: Path
) -> None:
    clock = FixedClock(OPENED_AT)
    event = new_case_opened()
    async with sessions() as session, session.begin():
        [requested] = await request_for_event(session, event=event, clock=clock)
    outbox = tmp_path / "outbox"
    channels: dict[str, Any] = {"email": FileOutboxChannel("email", outbox)}

    clock.advance(timedelta(seconds=3))
    async with sessions() as session, session.begin():
        assert await dispatch_requested(session, channels=channels, clock=clock, contacts=PlaceholderContacts()) == 1

    [written] = list(outbox.iterdir())
    assert written.name == f"{requested.id}.eml"
    message = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Hulp bij betalingsproblemen: gratis en vertrouwelijk"
    assert message["X-Notification-Id"] == requested.id
    assert message["X-Moment"] == "M1"
    assert message["X-Template-Version"] == "1"
    text = message.get_body()
    assert text is not None
    body = text.get_content()
    assert body.startswith("Beste Jelle Testhuis,")
    assert "De gemeente helpt u graag. Die hulp is gratis en vertrouwelijk." in body
    assert "Bel ons vandaag nog op 14 0511." in body
    assert f"Kenmerk: {event.subject[:8].upper()}" in body

    [sent] = await ledger.notifications(event.subject)
    assert sent.status == Status.sent
    assert sent.sent_at == OPENED_AT + timedelta(seconds=3)
    assert sent.attempts == 1
    assert sent.provider_reference == written.name
    assert sent.template_version == "1"

    clock.advance(timedelta(minutes=1))
    async with sessions() as session, session.begin():
        assert await dispatch_requested(session, channels=channels, clock=clock, contacts=PlaceholderContacts()) == 0
    assert list(outbox.iterdir()) == [written]
    [unchanged] = await ledger.notifications(event.subject)
    assert (unchanged.status, unchanged.attempts, unchanged.sent_at) == (Status.sent, 1, sent.sent_at)


class SlowCountingChannel:
    """A channel that takes its time, so two dispatchers overlap, and counts what it was handed."""

    name = "email"

    def __init__(self) -> None:
        self.handed: list[str] = []

    async def send(self, message: OutgoingMessage) -> HandOver:
        self.handed.append(message.notification_id)
        await asyncio.sleep(0.01)
        return HandOver(accepted=True, provider_reference=message.notification_id)


async def test_two_dispatchers_at_once_hand_each_notification_over_once(
    sessions: Any, ledger: Any, new_case_opened: Any
) -> None:
    clock = FixedClock(OPENED_AT)
    async with sessions() as session, session.begin():
        for _ in range(20):
            await request_for_event(session, event=new_case_opened(), clock=clock)
    channel = SlowCountingChannel()

    async def dispatcher() -> int:
        async with sessions() as session, session.begin():
            return await dispatch_requested(
                session, channels={"email": channel}, clock=clock, contacts=PlaceholderContacts(), limit=20
            )

    handed = await asyncio.gather(dispatcher(), dispatcher())

    assert sum(handed) == 20
    assert len(channel.handed) == len(set(channel.handed)) == 20
    assert {n.status for n in await ledger.notifications()} == {Status.sent}


async def test_without_contact_details_nothing_is_sent_and_the_notification_stays_requested(
    sessions: Any, ledger: Any, new_case_opened: Any, tmp_path: Path
) -> None:
    clock = FixedClock(OPENED_AT)
    event = new_case_opened()
    async with sessions() as session, session.begin():
        await request_for_event(session, event=event, clock=clock)
    channel = SlowCountingChannel()

    async with sessions() as session, session.begin():
        handed = await dispatch_requested(session, channels={"email": channel}, clock=clock, contacts=NoContacts())

    assert handed == 0
    assert channel.handed == []
    [waiting] = await ledger.notifications(event.subject)
    assert (waiting.status, waiting.attempts) == (Status.requested, 0)
