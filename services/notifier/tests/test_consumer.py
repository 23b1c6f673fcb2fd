"""The notifier's consumer on a real Kafka broker and a real PostgreSQL (docs/adr/0004, 0009): each case event
plans its moments once however often it arrives, offsets are committed after the database, poison goes to the
dead letters. The consumer only plans; the dispatcher (test_dispatch.py) turns due moments into messages."""

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eviction_schemas.envelope import CloudEvent
from notifier.db import ProcessedEvent
from notifier.notifications.models import Moment, PlannedMoment, PlanStatus

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def headers_of(record: Any) -> dict[str, bytes]:
    return dict(record.headers)


def plan_of(planned: list[Any]) -> list[tuple[str, str, str]]:
    return sorted((p.moment.value, p.occasion, p.status.value) for p in planned)


async def test_a_case_opened_plans_m1_and_m2_once_and_its_redelivery_plans_nothing_more(
    make_consumer: Any, bus: Any, ledger: Any, events: Any, stream: Any
) -> None:
    event = events.opened()
    consumer = make_consumer()
    async with consumer.running():
        first = await bus.publish(event)
        await consumer.processed(first)
        # The relay may publish the same event twice (ADR 0002): the same bytes arrive again.
        again = await bus.publish(event)
        await consumer.processed(again)

    signal, no_contact = await ledger.planned(event.subject)
    assert (signal.moment, signal.occasion, signal.status, signal.due_at) == (
        Moment.signal,
        "",
        PlanStatus.pending,
        event.time,
    )
    assert (no_contact.moment, no_contact.status) == (Moment.no_contact, PlanStatus.pending)
    assert no_contact.due_at == datetime.fromisoformat("2026-03-09T10:00:00+01:00")  # 5th working day, 10:00
    assert signal.caused_by_event == no_contact.caused_by_event == event.id
    # The consumer plans; it sends nothing and requests nothing.
    assert await ledger.notifications() == []
    assert await ledger.outbox() == []
    # The ledger stopped the second one before the handler: the handler ran once, one row records it.
    assert consumer.handled == [event.id]
    assert await ledger.processed() == [(event.source, event.id, stream.group)]


async def test_every_redelivered_event_of_a_case_plans_nothing_twice(
    make_consumer: Any, bus: Any, ledger: Any, events: Any
) -> None:
    opened = events.opened()
    case_id = opened.subject
    stream_of_case = [
        opened,
        events.scheduled(case_id, eviction_date=date(2026, 4, 14), at=opened.time + timedelta(days=1)),
        events.postponed(
            case_id, eviction_date=date(2026, 5, 12), previous=date(2026, 4, 14), at=opened.time + timedelta(days=2)
        ),
        events.stored(
            case_id,
            stored_on=date(2026, 5, 12),
            retention_ends_on=date(2026, 8, 11),
            at=opened.time + timedelta(days=3),
        ),
    ]
    consumer = make_consumer()
    async with consumer.running():
        for event in stream_of_case:
            await consumer.processed(await bus.publish(event))
        planned_once = plan_of(await ledger.planned(case_id))
        # Everything again, in order, as a relay that lost its bookkeeping would publish it.
        for event in stream_of_case:
            await consumer.processed(await bus.publish(event))

    assert (
        plan_of(await ledger.planned(case_id))
        == planned_once
        == sorted(
            [
                ("M1", "", "pending"),
                ("M2", "", "pending"),
                ("M4", "2026-04-14", "pending"),
                ("M4", "2026-05-12", "pending"),
                ("M5", "T-14:2026-04-14", "cancelled"),
                ("M5", "T-7:2026-04-14", "cancelled"),
                ("M5", "T-2:2026-04-14", "cancelled"),
                ("M5", "T-14:2026-05-12", "pending"),
                ("M5", "T-7:2026-05-12", "pending"),
                ("M5", "T-2:2026-05-12", "pending"),
                ("M8", "ended:INB-2026-0007", "pending"),
                ("M8", "reminder:INB-2026-0007", "pending"),
                ("M8", "stored:INB-2026-0007", "pending"),
            ]
        )
    )
    assert consumer.handled == [e.id for e in stream_of_case]
    assert len(await ledger.processed()) == len(stream_of_case)


async def test_m1_is_planned_for_cases_opened_from_a_signal_or_a_partner_message_not_by_staff(
    make_consumer: Any, bus: Any, ledger: Any, events: Any
) -> None:
    by_signal = events.opened(opened_by="signal")
    by_partner = events.opened(opened_by="partner_message")
    by_staff = events.opened(opened_by="staff", team="team-zuid")
    consumer = make_consumer()
    async with consumer.running():
        for event in (by_signal, by_partner, by_staff):
            await consumer.processed(await bus.publish(event))

    for event in (by_signal, by_partner):
        assert [p.moment for p in await ledger.planned(event.subject)] == [Moment.signal, Moment.no_contact]
    assert await ledger.planned(by_staff.subject) == []
    # The staff-opened case is known all the same (its team decides who may see its notifications) ...
    state = await ledger.case_state(by_staff.subject)
    assert (state.team, state.closed) == ("team-zuid", False)
    # ... and was recorded as processed: it is not retried.
    assert consumer.handled == [by_signal.id, by_partner.id, by_staff.id]
    assert sorted(event_id for _, event_id, _ in await ledger.processed()) == sorted(
        event.id for event in (by_signal, by_partner, by_staff)
    )


async def test_a_new_consumer_in_the_same_group_goes_on_after_the_committed_offsets(
    make_consumer: Any, bus: Any, ledger: Any, events: Any
) -> None:
    earlier = [events.opened() for _ in range(3)]
    first = make_consumer()
    async with first.running():
        for event in earlier:
            await first.processed(await bus.publish(event))

    later = events.opened()
    second = make_consumer()
    async with second.running():
        meta = await bus.publish(later)
        await second.processed(meta)

    # Not read again at all, so not even the ledger had to stop it.
    assert second.seen == [(meta.partition, meta.offset)]
    assert second.handled == [later.id]
    planned = await ledger.planned()
    assert sorted(p.case_id for p in planned if p.moment is Moment.signal) == sorted(
        e.subject for e in [*earlier, later]
    )
    assert len(planned) == 8


async def test_an_undecodable_record_is_dead_lettered_with_its_provenance_and_the_consumer_goes_on(
    make_consumer: Any, bus: Any, ledger: Any, events: Any, stream: Any
) -> None:
    good = events.opened()
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

    assert {p.case_id for p in await ledger.planned()} == {good.subject}
    assert consumer.handled == [good.id]


async def test_an_event_whose_handler_keeps_failing_is_dead_lettered_after_max_attempts_without_effects(
    make_consumer: Any, bus: Any, ledger: Any, events: Any, stream: Any, default_handler: Any
) -> None:
    failing, fine = events.opened(), events.opened()

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await default_handler(session, event)
        if event.id == failing.id:
            await session.flush()  # the effect reached the database before the failure
            raise RuntimeError("database hiccup")

    consumer = make_consumer(handle, max_attempts=3, retry_backoff=0.01)
    async with consumer.running():
        failed = await bus.publish(failing)
        await consumer.processed(failed)
        await consumer.processed(await bus.publish(fine))

    assert consumer.handled == [failing.id] * 3 + [fine.id]
    [dead] = await bus.read_all(stream.dlq, expected=1)
    headers = headers_of(dead)
    assert headers["dlq-reason"] == b"handler-failed"
    assert headers["dlq-error"] == b"RuntimeError: database hiccup"
    assert headers["dlq-original-offset"] == str(failed.offset).encode()
    assert CloudEvent.from_json_bytes(dead.value) == failing
    # Every attempt rolled back: no moment, no case state and no ledger row for the failed event.
    assert {p.case_id for p in await ledger.planned()} == {fine.subject}
    assert await ledger.case_state(failing.subject) is None
    assert [event_id for _, event_id, _ in await ledger.processed()] == [fine.id]


async def test_an_effect_that_breaks_a_constraint_at_commit_is_dead_lettered_not_silently_dropped(
    make_consumer: Any, bus: Any, ledger: Any, apply_events: Any, events: Any, stream: Any, default_handler: Any
) -> None:
    taken = events.opened()
    await apply_events(taken)
    [clashing] = [p.id for p in await ledger.planned(taken.subject) if p.moment is Moment.signal]

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await default_handler(session, event)
        # A buggy effect: the id of its planned M1 is taken, which only the commit finds out.
        mine = await session.scalar(
            select(PlannedMoment).where(PlannedMoment.case_id == event.subject, PlannedMoment.moment == Moment.signal)
        )
        assert mine is not None
        mine.id = clashing

    event = events.opened()
    consumer = make_consumer(handle, max_attempts=2, retry_backoff=0.01)
    async with consumer.running():
        await consumer.processed(await bus.publish(event))

    assert consumer.handled == [event.id, event.id]
    [dead] = await bus.read_all(stream.dlq, expected=1)
    assert headers_of(dead)["dlq-reason"] == b"handler-failed"
    assert b"IntegrityError" in headers_of(dead)["dlq-error"]
    assert await ledger.planned(event.subject) == []
    assert await ledger.processed() == []


async def test_the_ledger_belongs_to_the_consumer_group(make_consumer: Any, bus: Any, ledger: Any, events: Any) -> None:
    """An event processed by another service's group still counts as new for this one."""
    event = events.opened()
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
    assert {p.case_id for p in await ledger.planned()} == {event.subject}


async def test_an_event_for_a_case_the_notifier_never_saw_opened_is_planned_all_the_same(
    make_consumer: Any, bus: Any, ledger: Any, events: Any
) -> None:
    """Cases opened before the notifier ran: their later events still inform the household."""
    case_id = str(uuid.uuid4())
    summons = events.summons_served(case_id, served_on=date(2026, 3, 10))
    consumer = make_consumer()
    async with consumer.running():
        await consumer.processed(await bus.publish(summons))
    assert plan_of(await ledger.planned(case_id)) == [("M3", "2026-03-10", "pending")]
    assert (await ledger.case_state(case_id)).team is None
