"""The relay as it runs in production: `python -m case_api.workers.outbox_relay` publishes a new case's
case.opened on the case-events topic and stops cleanly on SIGTERM."""

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from case_api_fixtures import TEAM, made_up_household
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.db import OutboxRecord
from devinfra.topics import create_declared_topics, declared_topics
from eviction_schemas.envelope import CASE_EVENTS_TOPIC
from eviction_schemas.registry import validate_event

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def first_record_keyed(bootstrap: str, topic: str, key: str, timeout: float = 30) -> ConsumerRecord[bytes, bytes]:
    [declared] = [t for t in declared_topics() if t["name"] == topic]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(int(declared["partitions"]))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        async with asyncio.timeout(timeout):
            while True:
                for batch in (await consumer.getmany(*tps, timeout_ms=200)).values():
                    for record in batch:
                        if record.key == key.encode():
                            return record
    finally:
        await consumer.stop()


async def test_the_relay_process_publishes_a_new_case_and_exits_0_promptly_on_sigterm(
    kafka_bootstrap: str,
    case_api_db: str,
    case_api_client: Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]],
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    await create_declared_topics(kafka_bootstrap)
    env = {
        **os.environ,
        "CASE_API_DATABASE_URL": case_api_db,
        "CASE_API_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "relay.log"
    with log.open("wb") as output:
        # cwd is an empty dir, so no developer's .env is read.
        relay = subprocess.Popen(
            [sys.executable, "-m", "case_api.workers.outbox_relay"],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        async with case_api_client() as client:
            response = await client.post(
                "/v1/cases", json={"team": TEAM, "household": made_up_household(postcode="8932 RP")}
            )
        assert response.status_code == 201, response.text
        case_id = response.json()["id"]

        record = await first_record_keyed(kafka_bootstrap, CASE_EVENTS_TOPIC, case_id)

        envelope = json.loads(record.value)
        validate_event(envelope)
        assert envelope["type"] == "nl.eviction-prevention.case.opened"
        assert envelope["subject"] == case_id
        assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
        async with asyncio.timeout(10):
            while True:
                async with sessions() as session:
                    published_at = await session.scalar(
                        select(OutboxRecord.published_at).where(OutboxRecord.key == case_id)
                    )
                if published_at is not None:
                    break
                await asyncio.sleep(0.05)
        assert relay.poll() is None, log.read_text()

        relay.send_signal(signal.SIGTERM)
        try:
            returncode = await asyncio.to_thread(relay.wait, 10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the relay did not stop within 10 s of SIGTERM:\n{log.read_text()}")
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()

    assert returncode == 0, log.read_text()
    assert "case-api outbox relay stopped" in log.read_text()
