"""The outbox relay against real Kafka and real databases: every row once, in order per case, nothing lost
while Kafka is away (docs/adr/0002-outbox-and-relay.md)."""

import asyncio
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase

from devinfra.kafka import KafkaBroker
from eviction_schemas.envelope import make_event
from eviction_schemas.registry import validate_event
from service_kit.db import make_engine, make_session_factory, new_metadata
from service_kit.outbox import STRUCTURED_CONTENT_TYPE, OutboxMixin, OutboxRelay, add_event, make_producer
from service_kit.settings import DEVELOPMENT_OIN

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = new_metadata()


class OutboxRecord(OutboxMixin, Base):
    pass


Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
async def any_sessions(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[Sessions]:
    # Asked for lazily, so the SQLite case starts no PostgreSQL.
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url_factory")("kit_outbox")
    async for sessions in _sessions(url):
        yield sessions


@pytest.fixture
async def pg_sessions(postgres_url_factory: Callable[[str], str]) -> AsyncIterator[Sessions]:
    async for sessions in _sessions(postgres_url_factory("kit_outbox")):
        yield sessions


@pytest.fixture
async def sqlite_sessions(sqlite_url: str) -> AsyncIterator[Sessions]:
    async for sessions in _sessions(sqlite_url):
        yield sessions


async def _sessions(url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    started = make_producer(kafka_bootstrap, client_id="kit-test-relay")
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def case_opened(case_id: str, sequence: int, *, traceparent: str | None = None) -> Any:
    return make_event(
        event="case.opened",
        source_service="case-api",
        oin=DEVELOPMENT_OIN,
        subject=case_id,
        sequence=sequence,
        data={
            "case_id": case_id,
            "household_id": str(uuid.uuid5(uuid.NAMESPACE_URL, case_id)),
            "opened_by": "signal",
            "priority": "normal",
            "has_minors": False,
            "team": "team-noord",
        },
        time=T0,
        traceparent=traceparent,
    )


async def stage(
    sessions: Sessions, topic: str, events: list[Any], *, now: Callable[[int], datetime] = lambda i: T0
) -> list[str]:
    """Write the events as outbox rows in one transaction, as a service does beside its change."""
    async with sessions() as session, session.begin():
        for index, event in enumerate(events):
            add_event(session, OutboxRecord, topic=topic, event=event, now=now(index))
    return [str(event.id) for event in events]


async def unpublished(sessions: Sessions) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord.event_id).where(OutboxRecord.published_at.is_(None)).order_by(OutboxRecord.id)
        )
        return list(rows)


async def drain(relays: list[OutboxRelay], sessions: Sessions, *, timeout: float = 30) -> None:
    """Run the relays side by side until nothing waits, then stop them as SIGTERM would."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(relay.run(stop)) for relay in relays]
    try:
        async with asyncio.timeout(timeout):
            while (await relays[0].backlog())[0]:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


@pytest.mark.kafka
async def test_published_rows_are_keyed_by_case_in_structured_mode_marked_and_not_published_again(
    any_sessions: Sessions,
    producer: AIOKafkaProducer,
    new_topic: Callable[..., Awaitable[str]],
    topic_reader: Callable[..., Awaitable[list[Any]]],
) -> None:
    topic = await new_topic()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    events = [case_opened(first, 1, traceparent=TRACEPARENT), case_opened(second, 1), case_opened(first, 2)]
    event_ids = await stage(any_sessions, topic, events)
    relay = OutboxRelay(session_factory=any_sessions, model=OutboxRecord, producer=producer)

    assert await relay.publish_batch() == 3

    records = await topic_reader(topic)
    assert sorted(json.loads(record.value)["id"] for record in records) == sorted(event_ids)
    for record in records:
        envelope = json.loads(record.value)
        validate_event(envelope)
        assert record.key == envelope["subject"].encode()
        headers = dict(record.headers)
        assert headers["content-type"] == STRUCTURED_CONTENT_TYPE.encode()
        assert headers.get("traceparent") == (TRACEPARENT.encode() if envelope.get("traceparent") else None)
    assert await unpublished(any_sessions) == []
    async with any_sessions() as session:
        assert all(row.published_at is not None for row in await session.scalars(select(OutboxRecord)))

    assert await relay.publish_batch() == 0
    assert len(await topic_reader(topic)) == 3


@pytest.mark.kafka
@pytest.mark.postgres
async def test_rows_wait_while_kafka_is_down_and_the_same_relay_publishes_them_once_it_is_back(
    pg_sessions: Sessions,
    kafka_broker: KafkaBroker,
    new_topic: Callable[..., Awaitable[str]],
    topic_reader: Callable[..., Awaitable[list[Any]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = await new_topic(bootstrap=bootstrap)
    case_id = str(uuid.uuid4())
    # make_producer's options with a short request timeout, so a send to a stopped broker fails fast.
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", request_timeout_ms=1500
    )
    await producer.start()
    relay = OutboxRelay(session_factory=pg_sessions, model=OutboxRecord, producer=producer)
    event_ids = await stage(pg_sessions, topic, [case_opened(case_id, n) for n in range(1, 6)])
    stop = asyncio.Event()
    running = None
    try:
        await asyncio.to_thread(kafka_broker.stop)
        running = asyncio.create_task(relay.run(stop))
        async with asyncio.timeout(15):
            while "publishing failed" not in caplog.text:
                await asyncio.sleep(0.1)

        assert not running.done()
        assert await unpublished(pg_sessions) == event_ids
        await asyncio.to_thread(kafka_broker.start)
        async with asyncio.timeout(45):
            while await unpublished(pg_sessions):
                await asyncio.sleep(0.1)
    finally:
        if not kafka_broker.pid:
            await asyncio.to_thread(kafka_broker.start)
        stop.set()
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)
        await producer.stop()

    records = await topic_reader(topic, bootstrap=bootstrap)
    assert [json.loads(record.value)["id"] for record in records] == event_ids


@pytest.mark.kafka
@pytest.mark.postgres
async def test_two_relays_on_postgresql_publish_every_row_exactly_once_in_sequence_order_per_case(
    pg_sessions: Sessions,
    kafka_bootstrap: str,
    new_topic: Callable[..., Awaitable[str]],
    topic_reader: Callable[..., Awaitable[list[Any]]],
) -> None:
    topic = await new_topic(partitions=3)
    cases = [str(uuid.uuid4()) for _ in range(5)]
    per_case = 120
    # Interleaved as concurrent requests would write them: case 0 #1, case 1 #1, ..., case 0 #2, ...
    events = [case_opened(case_id, n) for n in range(1, per_case + 1) for case_id in cases]
    event_ids = await stage(pg_sessions, topic, events)
    producers = [make_producer(kafka_bootstrap, client_id=f"kit-test-relay-{n}") for n in range(2)]
    for producer in producers:
        await producer.start()
    try:
        relays = [
            OutboxRelay(session_factory=pg_sessions, model=OutboxRecord, producer=producer, batch_size=17)
            for producer in producers
        ]
        await drain(relays, pg_sessions)
    finally:
        for producer in producers:
            await producer.stop()

    records = await topic_reader(topic)
    published = Counter(json.loads(record.value)["id"] for record in records)
    assert [event_id for event_id, times in published.items() if times > 1] == []
    assert set(published) == set(event_ids)
    sequences: dict[str, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        envelope = json.loads(record.value)
        assert record.key == envelope["subject"].encode()
        sequences[envelope["subject"]].append(int(envelope["sequence"]))
    assert {case_id: sequences[case_id] for case_id in cases} == {
        case_id: list(range(1, per_case + 1)) for case_id in cases
    }


@pytest.mark.kafka
@pytest.mark.postgres
async def test_a_case_whose_earlier_event_another_relay_holds_is_left_alone_until_it_is_released(
    pg_sessions: Sessions,
    producer: AIOKafkaProducer,
    new_topic: Callable[..., Awaitable[str]],
    topic_reader: Callable[..., Awaitable[list[Any]]],
) -> None:
    topic = await new_topic(partitions=1)
    held_case, free_case = str(uuid.uuid4()), str(uuid.uuid4())
    event_ids = await stage(
        pg_sessions, topic, [case_opened(case_id, n) for n in range(1, 5) for case_id in (held_case, free_case)]
    )
    relay = OutboxRelay(session_factory=pg_sessions, model=OutboxRecord, producer=producer)

    # Another relay's claim, as the relay itself takes it: a row lock on the held case's event #2 only.
    async with pg_sessions() as other_relay, other_relay.begin():
        await other_relay.execute(
            select(OutboxRecord.id).where(OutboxRecord.event_id == event_ids[2]).with_for_update(skip_locked=True)
        )
        await relay.publish_batch()
        published = [json.loads(record.value) for record in await topic_reader(topic, partitions=1)]

        assert [int(e["sequence"]) for e in published if e["subject"] == free_case] == [1, 2, 3, 4]
        # Event #1 may go or wait, but #3 and #4 must not overtake the held #2.
        assert [int(e["sequence"]) for e in published if e["subject"] == held_case] in ([], [1])

    async with asyncio.timeout(10):
        while await relay.publish_batch():
            pass
    published = [json.loads(record.value) for record in await topic_reader(topic, partitions=1)]
    assert [int(e["sequence"]) for e in published if e["subject"] == held_case] == [1, 2, 3, 4]
    assert sorted(e["id"] for e in published) == sorted(event_ids)


@pytest.mark.kafka
async def test_a_single_relay_on_sqlite_publishes_everything_in_order(
    sqlite_sessions: Sessions,
    producer: AIOKafkaProducer,
    new_topic: Callable[..., Awaitable[str]],
    topic_reader: Callable[..., Awaitable[list[Any]]],
) -> None:
    topic = await new_topic(partitions=1)
    cases = [str(uuid.uuid4()) for _ in range(3)]
    event_ids = await stage(
        sqlite_sessions, topic, [case_opened(case_id, n) for n in range(1, 41) for case_id in cases]
    )
    relay = OutboxRelay(session_factory=sqlite_sessions, model=OutboxRecord, producer=producer, batch_size=25)

    await drain([relay], sqlite_sessions)

    records = await topic_reader(topic, partitions=1)
    assert [json.loads(record.value)["id"] for record in records] == event_ids
    assert await unpublished(sqlite_sessions) == []


@pytest.mark.kafka
async def test_backlog_counts_waiting_rows_and_dates_the_oldest(
    any_sessions: Sessions, producer: AIOKafkaProducer, new_topic: Callable[..., Awaitable[str]]
) -> None:
    topic = await new_topic(partitions=1)
    relay = OutboxRelay(session_factory=any_sessions, model=OutboxRecord, producer=producer, batch_size=2)
    assert await relay.backlog() == (0, None)

    case_id = str(uuid.uuid4())
    await stage(
        any_sessions,
        topic,
        [case_opened(case_id, n) for n in range(1, 4)],
        now=lambda index: T0 + timedelta(minutes=index),
    )
    assert await relay.backlog() == (3, T0)

    assert await relay.publish_batch() == 2
    assert await relay.backlog() == (1, T0 + timedelta(minutes=2))

    assert await relay.publish_batch() == 1
    assert await relay.backlog() == (0, None)
