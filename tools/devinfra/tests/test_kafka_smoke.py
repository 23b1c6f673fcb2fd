"""The local Kafka broker, proven with aiokafka: topics, idempotent and transactional produce, consumer groups
with manual commit, and a restart that keeps data and committed offsets."""

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from devinfra.kafka import KafkaBroker, create_topics

pytestmark = pytest.mark.kafka


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def _read_all(
    bootstrap: str, topic: str, *, partitions: int = 1, isolation_level: str = "read_uncommitted"
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of the topic's partitions up to their end offsets, without a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation_level, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        async with asyncio.timeout(30):
            while any([await consumer.position(tp) < end[tp] for tp in tps]):
                batches = await consumer.getmany(*tps, timeout_ms=500)
                for batch in batches.values():
                    records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def _take(consumer: AIOKafkaConsumer, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    """Exactly `count` records from a group consumer (the first calls may return nothing while it joins)."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    async with asyncio.timeout(30):
        while len(records) < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=count - len(records))
            for batch in batches.values():
                records.extend(batch)
    return records


async def test_create_topics_is_idempotent(kafka_bootstrap: str) -> None:
    topic = _name("smoke-topics")

    assert await create_topics(kafka_bootstrap, {topic: 2}) == [topic]
    assert await create_topics(kafka_bootstrap, {topic: 2}) == []

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert topic in await admin.list_topics()
        response = await admin.create_topics([NewTopic(topic, 2, 1)])
        assert for_code(response.topic_errors[0][1]) is TopicAlreadyExistsError
        described = await admin.describe_topics([topic])
        assert len(described[0]["partitions"]) == 2
    finally:
        await admin.close()


async def test_idempotent_producer(kafka_bootstrap: str) -> None:
    topic = _name("smoke-idempotent")
    await create_topics(kafka_bootstrap, {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = await asyncio.gather(*[producer.send(topic, f"summons-{i}".encode()) for i in range(20)])
        metadata = await asyncio.gather(*sent)
        # InitProducerId succeeded: the broker handed out a producer id, which every batch carries.
        assert producer._txn_manager.producer_id >= 0
    finally:
        await producer.stop()

    assert [m.offset for m in metadata] == list(range(20))
    records = await _read_all(kafka_bootstrap, topic)
    assert [r.value for r in records] == [f"summons-{i}".encode() for i in range(20)]


async def test_transactions_commit_and_abort(kafka_bootstrap: str) -> None:
    topic = _name("smoke-txn")
    await create_topics(kafka_bootstrap, {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=_name("smoke-txn"))
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-1")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-2")
    finally:
        await producer.stop()

    committed = await _read_all(kafka_bootstrap, topic, isolation_level="read_committed")
    assert [r.value for r in committed] == [b"committed-1", b"committed-2"]
    # The aborted record did reach the log: only the read_committed isolation hides it.
    uncommitted = await _read_all(kafka_bootstrap, topic, isolation_level="read_uncommitted")
    assert [r.value for r in uncommitted] == [b"committed-1", b"aborted", b"committed-2"]


async def test_consume_transform_produce(kafka_bootstrap: str) -> None:
    source, target, group = _name("smoke-ctp-in"), _name("smoke-ctp-out"), _name("smoke-ctp")
    await create_topics(kafka_bootstrap, {source: 1, target: 1})
    feeder = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await feeder.start()
    try:
        for case in (b"case-1", b"case-2", b"case-3"):
            await feeder.send_and_wait(source, case)
    finally:
        await feeder.stop()

    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=_name("smoke-ctp"))
    await consumer.start()
    await producer.start()
    try:
        records = await _take(consumer, 3)
        source_tp = TopicPartition(source, 0)
        async with producer.transaction():
            for record in records:
                assert record.value is not None
                await producer.send(target, record.value.upper())
            await producer.send_offsets_to_transaction({source_tp: records[-1].offset + 1}, group)
    finally:
        await producer.stop()
        await consumer.stop()

    output = await _read_all(kafka_bootstrap, target, isolation_level="read_committed")
    assert [r.value for r in output] == [b"CASE-1", b"CASE-2", b"CASE-3"]
    checker = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await checker.start()
    try:
        assert await checker.committed(source_tp) == 3
    finally:
        await checker.stop()


async def test_consumer_group_resumes_after_manual_commit(kafka_bootstrap: str) -> None:
    topic, group = _name("smoke-group"), _name("smoke-group")
    await create_topics(kafka_bootstrap, {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, f"eviction-{i}".encode())
    finally:
        await producer.stop()

    def group_consumer() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )

    first = group_consumer()
    await first.start()
    try:
        handled = await _take(first, 4)
        await first.commit({TopicPartition(topic, 0): handled[-1].offset + 1})
    finally:
        await first.stop()
    assert [r.value for r in handled] == [f"eviction-{i}".encode() for i in range(4)]

    second = group_consumer()
    await second.start()
    try:
        rest = await _take(second, 6)
    finally:
        await second.stop()
    assert [r.offset for r in rest] == list(range(4, 10))
    assert [r.value for r in rest] == [f"eviction-{i}".encode() for i in range(4, 10)]


async def test_restart_keeps_data_and_offsets(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path / "kafka")
    await asyncio.to_thread(broker.start)
    try:
        bootstrap = broker.bootstrap_servers
        topic, group = _name("smoke-restart"), _name("smoke-restart")
        await create_topics(bootstrap, {topic: 1})
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            for i in range(5):
                await producer.send_and_wait(topic, f"debt-arrangement-{i}".encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            await _take(consumer, 3)
            await consumer.commit({TopicPartition(topic, 0): 3})
        finally:
            await consumer.stop()

        old_pid, port = broker.pid, broker.port
        await asyncio.to_thread(broker.restart)
        assert old_pid is not None
        assert not _alive(old_pid)
        assert broker.pid != old_pid
        assert broker.port == port

        records = await _read_all(bootstrap, topic)
        assert [r.value for r in records] == [f"debt-arrangement-{i}".encode() for i in range(5)]
        resumed = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await resumed.start()
        try:
            assert await resumed.committed(TopicPartition(topic, 0)) == 3
            rest = await _take(resumed, 2)
        finally:
            await resumed.stop()
        assert [r.offset for r in rest] == [3, 4]
    finally:
        pid = broker.pid
        await asyncio.to_thread(broker.stop)
        broker.stop()  # idempotent
    assert pid is not None
    assert not _alive(pid)
    assert not broker.pid_file.exists()


def test_cli_starts_detached_creates_topics_and_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"

    def cli(*args: str) -> str:
        # A child interpreter, as `make run` uses it: `start` must return while the broker keeps running.
        result = subprocess.run(
            [sys.executable, "-m", "devinfra.kafka", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    bootstrap = cli("start", "--data-dir", str(data_dir)).strip()
    pid = int((data_dir / "kafka.pid").read_text())
    try:
        assert bootstrap.startswith("127.0.0.1:")
        assert _alive(pid)
        assert cli("create-topics", "--bootstrap", bootstrap, "--topic", "case-events:2", "--topic", "x") == (
            "created case-events\ncreated x\n"
        )
        assert cli("create-topics", "--bootstrap", bootstrap, "--topic", "case-events:2") == ""
    finally:
        cli("stop", "--data-dir", str(data_dir))
    assert not _alive(pid)
    assert not (data_dir / "kafka.pid").exists()
