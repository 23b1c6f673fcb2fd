"""Fixtures of the notifier's tests: a migrated database on the session's real PostgreSQL, fresh topics on
the session's real Kafka broker, and an EventConsumer that runs in the background of a test."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import RecordMetadata
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eviction_schemas.envelope import STRUCTURED_CONTENT_TYPE, CloudEvent, dlq_topic, make_event
from eviction_schemas.registry import validate_cloud_event
from notifier.db import ProcessedEvent
from notifier.migrate import SCRIPT_LOCATION
from notifier.notifications.models import Notification
from notifier.notifications.service import request_for_event
from service_kit.clock import Clock, SystemClock
from service_kit.consumer import EventConsumer, Handler
from service_kit.db import make_engine, make_session_factory
from service_kit.migrations import upgrade_to_head
from service_kit.outbox import make_producer
from service_kit.settings import DEVELOPMENT_OIN

Sessions = async_sessionmaker[AsyncSession]


async def eventually(condition: Callable[[], Awaitable[object]], *, what: str, timeout: float = 30.0) -> object:
    """Poll `condition` until it answers something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await condition()
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def case_opened(case_id: str | None = None, *, sequence: int = 1, opened_by: str = "signal") -> CloudEvent:
    """A valid case.opened as case-api publishes it."""
    case_id = case_id or str(uuid.uuid4())
    event = make_event(
        event="case.opened",
        source_service="case-api",
        oin=DEVELOPMENT_OIN,
        subject=case_id,
        sequence=sequence,
        time=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        data={
            "case_id": case_id,
            "household_id": str(uuid.uuid4()),
            "opened_by": opened_by,
            "priority": "high",
            "has_minors": True,
            "team": "team-noord",
        },
    )
    validate_cloud_event(event)  # a test event that broke the contract would prove nothing
    return event


@pytest.fixture
def new_case_opened() -> Callable[..., CloudEvent]:
    return case_opened


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[object]]:
    return eventually


@pytest.fixture
async def database_url(postgres_url_factory: Callable[[str], str]) -> str:
    """A fresh PostgreSQL database of this test, migrated to the newest schema."""
    url = postgres_url_factory("notifier_test")
    await asyncio.to_thread(upgrade_to_head, SCRIPT_LOCATION, url)
    return url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


@dataclass
class Ledger:
    """Reads what the notifier's database holds, for assertions."""

    sessions: Sessions

    async def notifications(self, case_id: str | None = None) -> list[Notification]:
        async with self.sessions() as session:
            query = select(Notification).order_by(Notification.created_at, Notification.case_id)
            if case_id is not None:
                query = query.where(Notification.case_id == case_id)
            return list((await session.scalars(query)).all())

    async def count_notifications(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Notification)) or 0)

    async def processed(self) -> list[tuple[str, str, str]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(ProcessedEvent.source, ProcessedEvent.event_id, ProcessedEvent.consumer_group)
            )
            return [tuple(row) for row in rows.all()]


@pytest.fixture
def ledger(sessions: Sessions) -> Ledger:
    return Ledger(sessions)


# --- Kafka ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """The producer the services use (idempotent, acks=all): it writes test records and dead letters."""
    producer = make_producer(kafka_bootstrap, client_id="notifier-tests")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Stream:
    """A topic of this test only, its consumer group, and that group's dead-letter topic."""

    bootstrap: str
    topic: str
    group: str

    @property
    def dlq(self) -> str:
        return dlq_topic(self.topic, self.group)


@pytest.fixture
async def stream(kafka_bootstrap: str) -> Stream:
    suffix = uuid.uuid4().hex[:10]
    stream = Stream(kafka_bootstrap, f"test.case-events.{suffix}", f"notifier-test-{suffix}")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(stream.topic, num_partitions=3, replication_factor=1),
                NewTopic(stream.dlq, num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        await admin.close()
    return stream


@dataclass(frozen=True)
class Bus:
    """Writes records to the test's topic as the outbox relay does, and reads topics back."""

    producer: AIOKafkaProducer
    stream: Stream

    async def produce(
        self, *, value: bytes, key: str, headers: list[tuple[str, bytes]] | None = None
    ) -> RecordMetadata:
        return await self.producer.send_and_wait(
            self.stream.topic,
            value=value,
            key=key.encode(),
            headers=headers if headers is not None else [("content-type", STRUCTURED_CONTENT_TYPE.encode())],
        )

    async def publish(self, event: CloudEvent) -> RecordMetadata:
        """An event in structured mode, keyed by its case id."""
        return await self.produce(value=event.to_json_bytes(), key=event.subject)

    async def read_all(self, topic: str, *, expected: int, timeout: float = 15.0) -> list[Any]:
        """Every record of `topic`, once `expected` of them are there and no more come for a moment."""
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=self.stream.bootstrap, group_id=None, auto_offset_reset="earliest"
        )
        await consumer.start()
        records: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200 if len(records) < expected else 500)
                got = [record for records in batch.values() for record in records]
                records.extend(got)
                if len(records) >= expected and not got:
                    break
        finally:
            await consumer.stop()
        return records


@pytest.fixture
def bus(producer: AIOKafkaProducer, stream: Stream) -> Bus:
    return Bus(producer, stream)


class RecordingConsumer(EventConsumer):
    """The real EventConsumer, noting which records it was handed and which events reached its handler,
    so a test sees what was read again and what was handled again."""

    def __init__(self, *, handler: Handler, **kwargs: Any) -> None:
        self.handled: list[str] = []

        async def counted(session: AsyncSession, event: CloudEvent) -> None:
            self.handled.append(event.id)
            await handler(session, event)

        super().__init__(handler=counted, **kwargs)
        self.seen: list[tuple[int, int]] = []
        self._task: asyncio.Task[None] | None = None

    async def process(self, record: ConsumerRecord[Any, Any]) -> None:
        await super().process(record)
        self.seen.append((record.partition, record.offset))

    async def processed(self, meta: RecordMetadata, timeout: float = 30.0) -> None:
        async def done() -> bool:
            if self._task is not None and self._task.done():
                self._task.result()  # the consumer died: its error, not a timeout, fails the test
                raise AssertionError("the consumer stopped before processing the record")
            return (meta.partition, meta.offset) in self.seen

        await eventually(done, what=f"record {meta.partition}/{meta.offset} to be processed", timeout=timeout)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["RecordingConsumer"]:
        """Runs as its worker does; on leaving, drains, commits and leaves the group."""
        stop = asyncio.Event()
        await self.start()
        task = self._task = asyncio.create_task(self.run(stop))
        try:
            yield self
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 30)
            finally:
                await self.stop()


def notifier_handler(clock: Clock) -> Handler:
    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await request_for_event(session, event=event, clock=clock)

    return handle


@pytest.fixture
def make_consumer(stream: Stream, sessions: Sessions, producer: AIOKafkaProducer) -> Callable[..., RecordingConsumer]:
    """A new consumer instance of the test's group; the handler defaults to the notifier's own."""

    def make(handler: Handler | None = None, **options: Any) -> RecordingConsumer:
        return RecordingConsumer(
            bootstrap_servers=stream.bootstrap,
            topics=[stream.topic],
            group_id=stream.group,
            session_factory=sessions,
            processed_model=ProcessedEvent,
            handler=handler or notifier_handler(SystemClock()),
            dlq_producer=producer,
            **options,
        )

    return make
