"""The real consumer process, killed with SIGKILL part-way through a stream and started again: every case
gets its moments planned once, none twice (quality.md, reliability)."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from notifier.notifications.models import PlanStatus

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

EVENTS = 200


@pytest.fixture
def consumer_process(database_url: str, stream: Any, tmp_path: Path) -> Iterator[Any]:
    """Starts `python -m notifier.workers.consumer` processes on the test's database and topic."""
    started: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "NOTIFIER_DATABASE_URL": database_url,
        "NOTIFIER_KAFKA_BOOTSTRAP_SERVERS": stream.bootstrap,
        "NOTIFIER_CONSUMER_GROUP": stream.group,
        "NOTIFIER_CASE_EVENTS_TOPIC": stream.topic,
        "NOTIFIER_LOG_LEVEL": "WARNING",
    }

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"consumer-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "notifier.workers.consumer"],
            env=env,
            cwd=tmp_path,  # no stray .env file of the checkout is read
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


async def committed_through(stream: Any, ends: dict[TopicPartition, int]) -> bool:
    """The group's committed offsets reached the end of every partition written to."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stream.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(stream.group)
    finally:
        await admin.close()
    return all(tp in offsets and offsets[tp].offset >= end for tp, end in ends.items())


async def test_a_consumer_killed_mid_stream_and_restarted_plans_each_case_s_moments_once(
    consumer_process: Any, bus: Any, ledger: Any, new_case_opened: Any, stream: Any, wait_until: Any
) -> None:
    events = [new_case_opened() for _ in range(EVENTS)]
    ends: dict[TopicPartition, int] = {}

    async def publish_all(batch: list[Any]) -> None:
        futures = [
            await bus.producer.send(stream.topic, value=e.to_json_bytes(), key=e.subject.encode()) for e in batch
        ]
        for meta in await asyncio.gather(*futures):
            tp = TopicPartition(meta.topic, meta.partition)
            ends[tp] = max(ends.get(tp, 0), meta.offset + 1)

    await publish_all(events[: EVENTS // 2])
    first = consumer_process()

    async def some_done() -> bool:
        return await ledger.count_planned() >= 60  # M1 and M2 of 30 cases

    await wait_until(some_done, what="the first consumer to make a start", timeout=45)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    done_at_kill = await ledger.count_planned()
    assert 60 <= done_at_kill <= EVENTS  # whole cases only: an event's moments commit together
    assert done_at_kill % 2 == 0

    # The rest of the stream arrives while no consumer runs; the second process picks up all of it.
    await publish_all(events[EVENTS // 2 :])
    second = consumer_process()

    async def all_committed() -> bool:
        return await committed_through(stream, ends)

    # The killed member holds its partitions until its session times out (10 s), then the new one goes on.
    await wait_until(all_committed, what="the restarted consumer to commit the whole stream", timeout=45)
    second.send_signal(signal.SIGTERM)
    assert second.wait(20) == 0, "the consumer did not stop cleanly on SIGTERM"

    planned = await ledger.planned()
    assert len(planned) == 2 * EVENTS
    by_case: dict[str, list[str]] = {}
    for moment in planned:
        by_case.setdefault(moment.case_id, []).append(moment.moment.value)
    assert set(by_case) == {e.subject for e in events}
    assert {tuple(sorted(moments)) for moments in by_case.values()} == {("M1", "M2")}
    assert {(p.status, p.occasion) for p in planned} == {(PlanStatus.pending, "")}
    # The consumer only plans: no message was requested by it.
    assert await ledger.count_notifications() == 0
    processed = await ledger.processed()
    assert len(processed) == EVENTS
    assert {event_id for _, event_id, _ in processed} == {e.id for e in events}
    # Nothing was poison: no dead letters.
    assert await bus.read_all(stream.dlq, expected=0, timeout=1) == []
