"""The notifier's messages as contact attempts (workers/notification_events.py), on the session's real Kafka
broker and PostgreSQL: one attempt per notification however often its events arrive, contact.attempted with it,
the case moved as an attempt moves it; a closed case keeps its stage, an unknown case is skipped, and only an
event that breaks its contract reaches the dead letters."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from case_api_fixtures import TEAM, made_up_household, made_up_signal
from conftest import T0, case_api_settings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.audit.models import Operation, ProcessingLogEntry
from case_api.cases.models import Case, Stage
from case_api.contacts.models import ContactAttempt, ContactChannel, PartOfDay
from case_api.db import OutboxRecord, ProcessedEvent
from case_api.workers.notification_events import handler
from devinfra.kafka import create_topics
from eviction_schemas.envelope import CloudEvent, dlq_topic, event_type, make_event
from eviction_schemas.registry import validate_cloud_event
from service_kit.clock import FixedClock
from service_kit.consumer import EventConsumer
from service_kit.outbox import make_producer
from service_kit.settings import DEVELOPMENT_OIN

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
SENT_AT = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)  # 09:15 in Amsterdam: a morning attempt


async def eventually(condition: Callable[[], Awaitable[object]], *, what: str, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await condition()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def notification_event(
    case_id: str,
    *,
    name: str = "notification.sent",
    notification_id: str | None = None,
    channel: str = "sms",
    moment: str = "M1",
    sequence: int = 1,
    at: datetime = SENT_AT,
) -> CloudEvent:
    """A notification event as the notifier publishes it (no address, no text)."""
    event = make_event(
        event=name,
        source_service="notifier",
        oin=DEVELOPMENT_OIN,
        subject=case_id,
        sequence=sequence,
        time=at,
        data={
            "notification_id": notification_id or str(uuid.uuid4()),
            "moment": moment,
            "channel": channel,
            "language": "nl",
            "attempt": 1,
        },
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    if name == "notification.failed":
        event = event.model_copy(update={"data": {**event.data, "permanent": True, "reason_code": "no_address"}})
    validate_cloud_event(event)  # a test event that broke the contract would prove nothing
    return event


@dataclass(frozen=True)
class Stream:
    """A notification topic of this test only, its consumer group and the group's dead-letter topic."""

    bootstrap: str
    topic: str
    group: str

    @property
    def dlq(self) -> str:
        return dlq_topic(self.topic, self.group)


@pytest.fixture
async def stream(kafka_bootstrap: str) -> Stream:
    suffix = uuid.uuid4().hex[:10]
    stream = Stream(kafka_bootstrap, f"test.notification-events.{suffix}", f"case-api-test-{suffix}")
    await create_topics(kafka_bootstrap, {stream.topic: 3, stream.dlq: 1})
    return stream


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(kafka_bootstrap, client_id="case-api-notification-tests")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@dataclass
class Bus:
    producer: AIOKafkaProducer
    stream: Stream

    async def publish(self, event: CloudEvent) -> None:
        """Structured mode, keyed by the case, as the notifier's relay writes it."""
        await self.producer.send_and_wait(
            self.stream.topic,
            value=event.to_json_bytes(),
            key=event.subject.encode(),
            headers=[("content-type", b"application/cloudevents+json")],
        )

    async def dead_letters(self, *, expected: int, timeout: float = 15.0) -> list[Any]:
        consumer = AIOKafkaConsumer(
            self.stream.dlq, bootstrap_servers=self.stream.bootstrap, group_id=None, auto_offset_reset="earliest"
        )
        await consumer.start()
        records: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200 if len(records) < expected else 500)
                got = [record for part in batch.values() for record in part]
                records.extend(got)
                if len(records) >= expected and not got:
                    break
        finally:
            await consumer.stop()
        return records


@pytest.fixture
def bus(producer: AIOKafkaProducer, stream: Stream) -> Bus:
    return Bus(producer, stream)


@dataclass
class Ledger:
    """What case-api's database holds, for assertions."""

    sessions: Sessions

    async def processed(self, *event_ids: str) -> bool:
        async with self.sessions() as session:
            rows = await session.scalars(select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(event_ids)))
            return set(rows.all()) == set(event_ids)

    async def attempts(self, case_id: str) -> list[ContactAttempt]:
        async with self.sessions() as session:
            query = select(ContactAttempt).where(ContactAttempt.case_id == case_id).order_by(ContactAttempt.recorded_at)
            return list((await session.scalars(query)).all())

    async def case(self, case_id: str) -> Case:
        async with self.sessions() as session:
            case = await session.get(Case, case_id)
            assert case is not None
            return case

    async def events(self, case_id: str, name: str) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(OutboxRecord)
                .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
                .order_by(OutboxRecord.id)
            )
            return [json.loads(row.payload) for row in rows]

    async def log(self, case_id: str) -> list[ProcessingLogEntry]:
        async with self.sessions() as session:
            query = select(ProcessingLogEntry).where(ProcessingLogEntry.case_id == case_id)
            return list((await session.scalars(query.order_by(ProcessingLogEntry.id))).all())


@pytest.fixture
def ledger(sessions: Sessions) -> Ledger:
    return Ledger(sessions)


@pytest.fixture
def consumer(
    stream: Stream, sessions: Sessions, producer: AIOKafkaProducer, case_api_db: str, clock: FixedClock
) -> Callable[..., AbstractAsyncContextManager[EventConsumer]]:
    """`async with consumer():` case-api's handler in the real EventConsumer, running as its worker runs it."""

    @contextlib.asynccontextmanager
    async def running(**options: Any) -> AsyncIterator[EventConsumer]:
        consumer = EventConsumer(
            bootstrap_servers=stream.bootstrap,
            topics=[stream.topic],
            group_id=stream.group,
            session_factory=sessions,
            processed_model=ProcessedEvent,
            handler=handler(case_api_settings(case_api_db), clock),
            dlq_producer=producer,
            **options,
        )
        stop = asyncio.Event()
        await consumer.start()
        task = asyncio.create_task(consumer.run(stop))
        try:
            yield consumer
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 30)
            finally:
                await consumer.stop()

    return running


async def open_case(client: httpx.AsyncClient) -> str:
    household = made_up_household(
        postcode=f"{1000 + uuid.uuid4().int % 9000} NE", house_number=str(1 + uuid.uuid4().int % 10**8)
    )
    response = await client.post("/v1/signals", json={"team": TEAM, "household": household, "signal": made_up_signal()})
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def test_a_notification_sent_delivered_twice_is_one_attempt_and_one_contact_attempted(
    case_api_client: Client, bus: Bus, ledger: Ledger, consumer: Callable[..., Any]
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    sent = notification_event(case_id, channel="sms", moment="M1")
    # Same case, same partition: once this one is processed, both copies before it were.
    after = notification_event(case_id, name="notification.requested", moment="M2")

    async with consumer():
        await bus.publish(sent)
        await bus.publish(sent)  # the notifier's relay may publish an event twice (ADR 0002)
        await bus.publish(after)
        await eventually(lambda: ledger.processed(sent.id, after.id), what="both copies and the event after them")

    [attempt] = await ledger.attempts(case_id)
    assert (attempt.channel, attempt.reached, attempt.attempted_at) == (ContactChannel.sms, False, SENT_AT)
    assert (attempt.part_of_day, attempt.recorded_by) == (PartOfDay.morning, "notifier")
    assert attempt.notification_id == sent.data["notification_id"]
    assert attempt.note == "notifier: M1 (signal) sent by sms"
    case = await ledger.case(case_id)
    assert (case.stage, case.first_contact_at) == (Stage.outreach, SENT_AT)
    [contact] = await ledger.events(case_id, "contact.attempted")
    assert contact["data"] == {
        "channel": "sms",
        "reached": False,
        "attempted_on": "2026-03-02",
        "part_of_day": "morning",
    }
    assert contact["traceparent"] == sent.traceparent  # the message's trace goes on
    entry = (await ledger.log(case_id))[-1]
    assert (entry.actor, entry.activity, entry.operation) == ("notifier", "informing-the-household", Operation.write)


async def test_sent_then_delivered_is_one_attempt_and_delivered_alone_records_one(
    case_api_client: Client, bus: Bus, ledger: Ledger, consumer: Callable[..., Any]
) -> None:
    async with case_api_client() as caseworker:
        both_case, delivered_case = await open_case(caseworker), await open_case(caseworker)
    notification_id = str(uuid.uuid4())
    sent = notification_event(both_case, notification_id=notification_id, channel="email", moment="M4")
    delivered = notification_event(
        both_case, name="notification.delivered", notification_id=notification_id, channel="email", moment="M4"
    )
    only_delivered = notification_event(delivered_case, name="notification.delivered", channel="letter", moment="M3")

    async with consumer():
        for event in (sent, delivered, only_delivered):
            await bus.publish(event)
        await eventually(lambda: ledger.processed(sent.id, delivered.id, only_delivered.id), what="three events")

    [attempt] = await ledger.attempts(both_case)
    assert (attempt.channel, attempt.note) == (ContactChannel.email, "notifier: M4 (date set) sent by email")
    assert len(await ledger.events(both_case, "contact.attempted")) == 1
    [letter] = await ledger.attempts(delivered_case)
    assert (letter.channel, letter.note) == (ContactChannel.letter, "notifier: M3 (threat) delivered by letter")


async def test_what_reached_nobody_is_not_an_attempt_and_an_unknown_case_is_skipped(
    case_api_client: Client, bus: Bus, ledger: Ledger, consumer: Callable[..., Any], stream: Stream
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    events = [
        notification_event(case_id, name="notification.requested"),
        notification_event(case_id, name="notification.failed"),
        notification_event(case_id, channel="caseworker_task", moment="M2"),  # the caseworker records that contact
        notification_event(str(uuid.uuid4())),  # a case case-api does not know
    ]

    async with consumer():
        for event in events:
            await bus.publish(event)
        await eventually(lambda: ledger.processed(*(event.id for event in events)), what="four events")

    assert await ledger.attempts(case_id) == []
    assert (await ledger.case(case_id)).stage is Stage.signalled
    assert await bus.dead_letters(expected=0, timeout=2) == []


async def test_a_closed_case_gets_the_attempt_and_keeps_its_stage(
    case_api_client: Client, bus: Bus, ledger: Ledger, consumer: Callable[..., Any]
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
        closed = await caseworker.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert closed.status_code == 200, closed.text
    sent = notification_event(case_id, channel="letter", moment="M6")

    async with consumer():
        await bus.publish(sent)
        await eventually(lambda: ledger.processed(sent.id), what="the sent event")

    [attempt] = await ledger.attempts(case_id)
    assert attempt.channel is ContactChannel.letter
    assert (await ledger.case(case_id)).stage is Stage.closed
    assert len(await ledger.events(case_id, "contact.attempted")) == 1
    assert await bus.dead_letters(expected=0, timeout=2) == []


async def test_a_notifier_clock_ahead_of_ours_records_the_attempt_now(
    case_api_client: Client, bus: Bus, ledger: Ledger, consumer: Callable[..., Any]
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    ahead = notification_event(case_id, at=datetime(2026, 3, 2, 9, 31, tzinfo=UTC))  # T0 is 09:30

    async with consumer():
        await bus.publish(ahead)
        await eventually(lambda: ledger.processed(ahead.id), what="the event")

    [attempt] = await ledger.attempts(case_id)
    assert attempt.attempted_at == T0


async def test_an_event_that_breaks_its_contract_is_dead_lettered_and_the_consumer_goes_on(
    case_api_client: Client, bus: Bus, ledger: Ledger, consumer: Callable[..., Any], stream: Stream
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    good = notification_event(case_id)
    broken = CloudEvent.model_validate({**good.model_dump(), "id": str(uuid.uuid4()), "data": {"moment": "M1"}})

    async with consumer(max_attempts=2, retry_backoff=0.01):
        await bus.publish(broken)
        await bus.publish(good)  # same case, same partition: after the broken one
        await eventually(lambda: ledger.processed(good.id), what="the good event")

    [dead] = await bus.dead_letters(expected=1)
    headers = dict(dead.headers)
    assert headers["dlq-reason"] == b"handler-failed"
    assert headers["dlq-consumer-group"] == stream.group.encode()
    assert len(await ledger.attempts(case_id)) == 1


async def test_the_worker_process_records_a_notification_sent_twice_once_and_stops_on_sigterm(
    case_api_client: Client, bus: Bus, ledger: Ledger, stream: Stream, case_api_db: str, tmp_path: Path
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    sent = notification_event(case_id, channel="email", moment="M1")
    after = notification_event(case_id, name="notification.requested", moment="M2")
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("CASE_API_")},
        "CASE_API_DATABASE_URL": case_api_db,
        "CASE_API_KAFKA_BOOTSTRAP_SERVERS": stream.bootstrap,
        "CASE_API_NOTIFICATION_EVENTS_TOPIC": stream.topic,
        "CASE_API_CONSUMER_GROUP": stream.group,
        "CASE_API_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "notification-events.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "case_api.workers.notification_events"],
            env=env,
            cwd=tmp_path,  # no stray .env file of the checkout is read
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        for event in (sent, sent, after):
            await bus.publish(event)
        await eventually(lambda: ledger.processed(sent.id, after.id), what="the worker to record both", timeout=60)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0, log_path.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)

    [attempt] = await ledger.attempts(case_id)
    assert (attempt.channel, attempt.recorded_by, attempt.attempted_at) == (ContactChannel.email, "notifier", SENT_AT)
    assert len(await ledger.events(case_id, "contact.attempted")) == 1
