"""The notifier's consumer on a real Kafka broker and a real PostgreSQL (docs/adr/0004): one message per
moment however often an event arrives, offsets committed after the database, poison to the dead letters."""

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from eviction_schemas.envelope import CloudEvent
from notifier.db import ProcessedEvent
from notifier.notifications.models import Status
from notifier.notifications.service import request_for_event
from service_kit.clock import SystemClock

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def headers_of(record: Any) -> dict[str, bytes]:
    return dict(record.headers)


async def test_a_case_opened_requests_one_m1_email_and_its_redelivery_requests_nothing_more(
    make_consumer: Any, bus: Any, ledger: Any, new_case_opened: Any, stream: Any
) -> None:
    event = new_case_opened()
    consumer = make_consumer()
    async with consumer.running():
        first = await bus.publish(event)
        await consumer.processed(first)
        # The relay may publish the same event twice (ADR 0002): the same bytes arrive again.
        again = await bus.publish(event)
        await consumer.processed(again)

    [notification] = await ledger.notifications(event.subject)
    assert (notification.moment, notification.channel, notification.language) == ("M1", "email", "nl")
    assert notification.status == Status.requested
    assert notification.caused_by_event == event.id
    # The ledger stopped the second one before the handler: the handler ran once, one row records it.
    assert consumer.handled == [event.id]
    assert await ledger.processed() == [(event.source, event.id, stream.group)]


async def test_m1_is_requested_for_cases_opened_from_a_signal_or_a_partner_message_not_by_staff(
    make_consumer: Any, bus: Any, ledger: Any, new_case_opened: Any, stream: Any
) -> None:
    by_signal = new_case_opened(opened_by="signal")
    by_partner = new_case_opened(opened_by="partner_message")
    by_staff = new_case_opened(opened_by="staff")
    consumer = make_consumer()
    async with consumer.running():
        for event in (by_signal, by_partner, by_staff):
            await consumer.processed(await bus.publish(event))

    for event in (by_signal, by_partner):
        [notification] = await ledger.notifications(event.subject)
        assert (notification.moment, notification.channel) == ("M1", "email")
    assert await ledger.notifications(by_staff.subject) == []
    # The staff-opened case was handled and recorded as processed all the same: it is not retried.
    assert consumer.handled == [by_signal.id, by_partner.id, by_staff.id]
    assert sorted(event_id for _, event_id, _ in await ledger.processed()) == sorted(
        event.id for event in (by_signal, by_partner, by_staff)
    )


async def test_a_new_consumer_in_the_same_group_goes_on_after_the_committed_offsets(
    make_consumer: Any, bus: Any, ledger: Any, new_case_opened: Any
) -> None:
    earlier = [new_case_opened() for _ in range(3)]
    first = make_consumer()
    async with first.running():
        for event in earlier:
            await first.processed(await bus.publish(event))

    later = new_case_opened()
    second = make_consumer()
    async with second.running():
        meta = await bus.publish(later)
        await second.processed(meta)

    # Not read again at all, so not even the ledger had to stop it.
    assert second.seen == [(meta.partition, meta.offset)]
    assert second.handled == [later.id]
    assert sorted(n.case_id for n in await ledger.notifications()) == sorted(e.subject for e in [*earlier, later])


async def test_an_undecodable_record_is_dead_lettered_with_its_provenance_and_the_consumer_goes_on(
    make_consumer: Any, bus: Any, ledger: Any, new_case_opened: Any, stream: Any
) -> None:
    good = new_case_opened()
    consumer = make_consumer()
    async with consumer.running():
        # Same key, so the same partition: the good event can only be processed after the poison.
        poison = await bus.produce(
            value=b"\x00{not json",
            key=good.subject,
            headers=[("content-type", b"application/cloudevents+json"), ("traceparent", b"t-1")],
        )
        after = await bus.publish(good)
        await consumer.processed(after)

    assert (poison.partition, poison.offset) in consumer.seen
    [dead] = await bus.read_all(stream.dlq, expected=1)
    assert dead.key == good.subject.encode()
    assert dead.value == b"\x00{not json"
    headers = headers_of(dead)
    assert headers["content-type"] == b"application/cloudevents+json"
    assert headers["traceparent"] == b"t-1"
    assert headers["dlq-reason"] == b"undecodable"
    assert headers["dlq-original-topic"] == stream.topic.encode()
    assert headers["dlq-original-partition"] == str(poison.partition).encode()
    assert headers["dlq-original-offset"] == str(poison.offset).encode()
    assert headers["dlq-consumer-group"] == stream.group.encode()
    assert headers["dlq-error"]
    datetime.fromisoformat(headers["dlq-failed-at"].decode())

    assert [n.case_id for n in await ledger.notifications()] == [good.subject]
    assert consumer.handled == [good.id]


async def test_an_event_whose_handler_keeps_failing_is_dead_lettered_after_max_attempts_without_effects(
    make_consumer: Any, bus: Any, ledger: Any, new_case_opened: Any, stream: Any
) -> None:
    failing, fine = new_case_opened(), new_case_opened()
    clock = SystemClock()

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await request_for_event(session, event=event, clock=clock)
        if event.id == failing.id:
            await session.flush()  # the effect reached the database before the failure
            raise RuntimeError("case-api unreachable")

    consumer = make_consumer(handle, max_attempts=3, retry_backoff=0.01)
    async with consumer.running():
        failed = await bus.publish(failing)
        await consumer.processed(failed)
        await consumer.processed(await bus.publish(fine))

    assert consumer.handled == [failing.id] * 3 + [fine.id]
    [dead] = await bus.read_all(stream.dlq, expected=1)
    headers = headers_of(dead)
    assert headers["dlq-reason"] == b"handler-failed"
    assert headers["dlq-error"] == b"RuntimeError: case-api unreachable"
    assert headers["dlq-original-offset"] == str(failed.offset).encode()
    assert CloudEvent.from_json_bytes(dead.value) == failing
    # Every attempt rolled back: no message and no ledger row for the failed event; the next one went on.
    assert [n.case_id for n in await ledger.notifications()] == [fine.subject]
    assert [event_id for _, event_id, _ in await ledger.processed()] == [fine.id]


async def test_an_effect_that_breaks_a_constraint_at_commit_is_dead_lettered_not_silently_dropped(
    make_consumer: Any, bus: Any, ledger: Any, sessions: Any, new_case_opened: Any, stream: Any
) -> None:
    clashing_id = str(uuid.uuid4())
    taken = new_case_opened()
    async with sessions() as session, session.begin():
        [existing] = await request_for_event(session, event=taken, clock=SystemClock())
        existing.id = clashing_id

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        # A buggy effect: its primary key is taken, which only the commit finds out.
        [notification] = await request_for_event(session, event=event, clock=SystemClock())
        notification.id = clashing_id

    event = new_case_opened()
    consumer = make_consumer(handle, max_attempts=2, retry_backoff=0.01)
    async with consumer.running():
        await consumer.processed(await bus.publish(event))

    assert consumer.handled == [event.id, event.id]
    [dead] = await bus.read_all(stream.dlq, expected=1)
    assert headers_of(dead)["dlq-reason"] == b"handler-failed"
    assert b"IntegrityError" in headers_of(dead)["dlq-error"]
    assert await ledger.notifications(event.subject) == []
    assert await ledger.processed() == []


async def test_the_ledger_belongs_to_the_consumer_group(
    make_consumer: Any, bus: Any, ledger: Any, new_case_opened: Any, stream: Any
) -> None:
    """An event processed by another service's group still counts as new for this one."""
    event = new_case_opened()
    async with ledger.sessions() as session, session.begin():
        session.add(
            ProcessedEvent(
                source=event.source,
                event_id=event.id,
                consumer_group="some-other-group",
                processed_at=datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
            )
        )
    consumer = make_consumer()
    async with consumer.running():
        await consumer.processed(await bus.publish(event))
    assert consumer.handled == [event.id]
    assert [n.case_id for n in await ledger.notifications()] == [event.subject]
