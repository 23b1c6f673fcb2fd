"""Fixtures of service-kit's tests: a settings class of their own, fresh topics and a reader of them."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from devinfra.kafka import create_topics
from service_kit.settings import ServiceSettings

TopicReader = Callable[..., Awaitable[list[ConsumerRecord[bytes, bytes]]]]


class KitSettings(ServiceSettings):
    """ServiceSettings as a service uses them, with a prefix no real environment sets."""

    model_config = SettingsConfigDict(env_prefix="EP_SERVICE_KIT_TEST_", env_file=None, extra="ignore")

    service_name: ClassVar[str] = "service-kit-test"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'kit.sqlite3'}"


@pytest.fixture
def kit_settings(sqlite_url: str) -> Callable[..., KitSettings]:
    def make(**overrides: object) -> KitSettings:
        values: dict[str, object] = {"database_url": sqlite_url, **overrides}
        return KitSettings(**values)

    return make


@pytest.fixture
async def new_topic(kafka_bootstrap: str) -> Callable[..., Awaitable[str]]:
    """A topic of this test alone, so what a test reads is only what it wrote."""

    async def make(partitions: int = 3, bootstrap: str = kafka_bootstrap) -> str:
        name = f"kit-test-{uuid.uuid4().hex[:10]}"
        assert await create_topics(bootstrap, {name: partitions}) == [name]
        return name

    return make


async def read_topic(bootstrap: str, topic: str, partitions: int) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of every partition of the topic, up to the end offsets, partition by partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            records: list[ConsumerRecord[bytes, bytes]] = []
            while any([await consumer.position(tp) < end[tp] for tp in tps]):
                for batch in (await consumer.getmany(*tps, timeout_ms=500)).values():
                    records.extend(batch)
        return records
    finally:
        await consumer.stop()


@pytest.fixture
def topic_reader(kafka_bootstrap: str) -> TopicReader:
    async def read(
        topic: str, *, partitions: int = 3, bootstrap: str = kafka_bootstrap
    ) -> list[ConsumerRecord[bytes, bytes]]:
        return await read_topic(bootstrap, topic, partitions)

    return read


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with its lifespan run, as uvicorn would; a crash answers as a server would."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://service") as client,
    ):
        yield client


@pytest.fixture
def client_of() -> Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]:
    return serve
