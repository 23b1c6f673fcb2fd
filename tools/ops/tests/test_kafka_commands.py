"""ep-ops lag and dlq replay against the session's real Kafka broker, on topics of each test's own."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ep_ops.kafka import lag, partitions_of, replay_dead_letters
from eviction_schemas.envelope import dlq_topic

pytestmark = pytest.mark.kafka


async def create_topics(bootstrap: str, *topics: tuple[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=n, replication_factor=1) for name, n in topics])
    finally:
        await admin.close()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def commit_at_end(bootstrap: str, group: str, topic: str, partitions: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.commit(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None, list[str]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = await partitions_of(bootstrap, topic)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found = []
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found.extend((r.key, r.value, [name for name, _ in r.headers or ()]) for r in records)
        return found
    finally:
        await consumer.stop()


async def test_lag_shows_what_a_group_has_not_read_since_its_commit(
    kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"ops-test.lag.{suffix}", f"ops-test-group-{suffix}"
    await create_topics(kafka_bootstrap, (topic, 3))
    for n in range(4):
        await producer.send_and_wait(topic, value=b"{}", key=f"case-{n}".encode())
    await commit_at_end(kafka_bootstrap, group, topic, 3)

    caught_up = await lag(kafka_bootstrap, {group: [topic]})
    assert caught_up.totals["total_lag"] == 0
    assert len(caught_up.rows) == 3

    for _ in range(5):
        await producer.send_and_wait(topic, value=b"{}", key=b"one-case", partition=1)
    behind = await lag(kafka_bootstrap, {group: [topic]})
    by_partition = {row["partition"]: row["lag"] for row in behind.rows}
    assert by_partition == {0: 0, 1: 5, 2: 0}
    assert behind.totals["lag_by_group"] == {group: 5}
    assert "5 record(s) behind" in behind.to_table()


async def test_dlq_replay_puts_a_dead_letter_back_exactly_once(
    kafka_bootstrap: str, producer: AIOKafkaProducer
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"ops-test.case-events.{suffix}", f"ops-test-consumer-{suffix}"
    dead_letters = dlq_topic(topic, group)
    await create_topics(kafka_bootstrap, (topic, 3), (dead_letters, 1))
    headers = [
        ("content-type", b"application/cloudevents+json"),
        ("dlq-reason", b"handler_failed"),
        ("dlq-error", b"RuntimeError: boom"),
        ("dlq-original-topic", topic.encode()),
        ("dlq-original-partition", b"2"),
        ("dlq-original-offset", b"7"),
        ("dlq-consumer-group", group.encode()),
    ]
    await producer.send_and_wait(dead_letters, value=b'{"id": "evt-1"}', key=b"case-1", headers=headers)

    dry = await replay_dead_letters(kafka_bootstrap, group=group, topic=topic, dry_run=True)
    assert [row["action"] for row in dry.rows] == ["would replay"]
    assert await read_all(kafka_bootstrap, topic) == []

    first = await replay_dead_letters(kafka_bootstrap, group=group, topic=topic)
    assert first.totals["replayed"] == 1
    assert first.rows[0]["to_topic"] == topic
    assert first.rows[0]["reason"] == "handler_failed"

    second = await replay_dead_letters(kafka_bootstrap, group=group, topic=topic)
    assert second.rows == []
    assert "nothing to replay" in second.summary

    await asyncio.sleep(0)
    assert await read_all(kafka_bootstrap, topic) == [(b"case-1", b'{"id": "evt-1"}', ["content-type"])]


async def test_dlq_replay_honours_the_limit(kafka_bootstrap: str, producer: AIOKafkaProducer) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"ops-test.limit.{suffix}", f"ops-test-limit-{suffix}"
    await create_topics(kafka_bootstrap, (topic, 1), (dlq_topic(topic, group), 1))
    for n in range(3):
        await producer.send_and_wait(
            dlq_topic(topic, group), value=f"{n}".encode(), key=b"k", headers=[("dlq-original-topic", topic.encode())]
        )
    assert len((await replay_dead_letters(kafka_bootstrap, group=group, topic=topic, limit=2)).rows) == 2
    assert [row["offset"] for row in (await replay_dead_letters(kafka_bootstrap, group=group, topic=topic)).rows] == [2]
    assert [value for _, value, _ in await read_all(kafka_bootstrap, topic)] == [b"0", b"1", b"2"]
