"""Observability of every service: /metrics with the HTTP histogram by route template, JSON log lines with
the trace id, W3C traceparent in and out, the outbox backlog gauge, consumer lag per partition, and the
worker's metrics server."""

import json
import logging
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy.orm import DeclarativeBase

from devinfra.ports import free_port
from eviction_schemas.envelope import make_event
from service_kit.app import create_service_app
from service_kit.consumer import EventConsumer, ProcessedEventMixin
from service_kit.db import make_engine, make_session_factory, new_metadata
from service_kit.outbox import OutboxMixin, OutboxRelay, add_event, install_outbox_metrics, make_producer
from service_kit.settings import DEVELOPMENT_OIN, ServiceSettings

Serve = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
W3C = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
MADE_UP_NAME = "Jelle Testhuis"

log = logging.getLogger("kit.observability.test")


class Base(DeclarativeBase):
    metadata = new_metadata()


class OutboxRecord(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class Tenant(BaseModel):
    name: str
    age: int


def build(settings: ServiceSettings) -> FastAPI:
    router = APIRouter()

    @router.get("/v1/cases/{case_id}")
    async def read_case(case_id: str) -> dict[str, str]:
        log.info("reading a case")
        return {"case_id": case_id}

    @router.post("/v1/tenants")
    async def add_tenant(tenant: Tenant) -> dict[str, int]:
        return {"age": tenant.age}

    @router.get("/v1/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    return create_service_app(settings=settings, title="kit test", description="observability", routers=[router])


def samples(exposition: str, name: str) -> dict[str, float]:
    """`{labels}` -> value of every sample called `name` in a Prometheus text exposition."""
    found = {}
    for line in exposition.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            found[key[len(name) :]] = float(value)
    return found


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_metrics_show_the_http_histogram_by_route_template_method_and_status(
    kit_settings: Callable[..., ServiceSettings], client_of: Serve
) -> None:
    async with client_of(build(kit_settings())) as client:
        case_ids = [str(uuid.uuid4()) for _ in range(3)]
        for case_id in case_ids:
            assert (await client.get(f"/v1/cases/{case_id}")).status_code == 200
        assert (await client.get("/v1/nowhere/at/all")).status_code == 404
        assert (await client.get("/v1/broken")).status_code == 500
        response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    counts = samples(response.text, "http_request_duration_seconds_count")
    assert counts['{method="GET",route="/v1/cases/{case_id}",status="200"}'] == 3
    assert counts['{method="GET",route="unmatched",status="404"}'] == 1
    assert counts['{method="GET",route="/v1/broken",status="500"}'] == 1
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/cases/{case_id}"' in response.text
    assert not any(case_id in response.text for case_id in case_ids)
    assert "process_resident_memory_bytes" in response.text


async def test_a_traceparent_is_continued_and_one_is_made_when_missing(
    kit_settings: Callable[..., ServiceSettings], client_of: Serve
) -> None:
    async with client_of(build(kit_settings())) as client:
        continued = await client.get("/health/live", headers={"traceparent": TRACEPARENT})
        made = await client.get("/health/live")
        malformed = await client.get("/health/live", headers={"traceparent": "00-zz-yy-01"})

    match = W3C.match(continued.headers["traceparent"])
    assert match is not None
    assert match.group(1) == TRACE_ID
    assert match.group(2) != "b7ad6b7169203331"  # the server's own span, a child of the caller's
    for response in (made, malformed):
        new = W3C.match(response.headers["traceparent"])
        assert new is not None
        assert new.group(1) != TRACE_ID


async def test_logs_are_json_lines_with_the_trace_id_of_the_request(
    kit_settings: Callable[..., ServiceSettings], client_of: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    async with client_of(build(kit_settings())) as client:
        capsys.readouterr()
        await client.get(f"/v1/cases/{uuid.uuid4()}", headers={"traceparent": TRACEPARENT})
        await client.get("/v1/broken", headers={"traceparent": TRACEPARENT})
        lines = json_lines(capsys.readouterr().err)

    [reading] = [line for line in lines if line["message"] == "reading a case"]
    assert set(reading) == {"time", "level", "logger", "message", "service", "trace_id", "span_id"}
    assert reading["level"] == "INFO"
    assert reading["logger"] == "kit.observability.test"
    assert reading["service"] == "service-kit-test"
    assert reading["trace_id"] == TRACE_ID
    assert datetime.fromisoformat(reading["time"]).tzinfo is not None
    [error] = [line for line in lines if line["message"].startswith("unexpected error")]
    assert error["trace_id"] == TRACE_ID
    assert "RuntimeError: a bug" in error["exception"]


async def test_a_refused_body_is_never_logged(
    kit_settings: Callable[..., ServiceSettings], client_of: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    async with client_of(build(kit_settings())) as client:
        capsys.readouterr()
        response = await client.post("/v1/tenants", json={"name": MADE_UP_NAME, "age": "not a number"})
        output = capsys.readouterr()

    assert response.status_code == 400
    assert MADE_UP_NAME not in output.err + output.out


def case_opened(case_id: str, *, traceparent: str | None = None) -> Any:
    return make_event(
        event="case.opened",
        source_service="case-api",
        oin=DEVELOPMENT_OIN,
        subject=case_id,
        sequence=1,
        data={
            "case_id": case_id,
            "household_id": str(uuid.uuid5(uuid.NAMESPACE_URL, case_id)),
            "opened_by": "signal",
            "priority": "normal",
            "has_minors": False,
            "team": "team-noord",
        },
        time=datetime.now(UTC),
        traceparent=traceparent,
    )


@pytest.mark.kafka
async def test_the_outbox_backlog_gauge_rises_with_a_staged_event_and_falls_when_the_relay_publishes(
    kit_settings: Callable[..., ServiceSettings],
    client_of: Serve,
    sqlite_url: str,
    kafka_bootstrap: str,
    new_topic: Callable[..., Any],
) -> None:
    engine = make_engine(sqlite_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    sessions = make_session_factory(engine)
    topic = await new_topic(partitions=1)
    app = build(kit_settings())
    install_outbox_metrics(app, OutboxRecord)
    producer = make_producer(kafka_bootstrap, client_id="kit-test-metrics")
    await producer.start()
    try:
        async with client_of(app) as client:
            before = samples((await client.get("/metrics")).text, "outbox_backlog_events")
            async with sessions() as session, session.begin():
                add_event(
                    session, OutboxRecord, topic=topic, event=case_opened(str(uuid.uuid4())), now=datetime.now(UTC)
                )
            staged = (await client.get("/metrics")).text
            relay = OutboxRelay(session_factory=sessions, model=OutboxRecord, producer=producer)
            assert await relay.publish_batch() == 1
            published = (await client.get("/metrics")).text
    finally:
        await producer.stop()
        await engine.dispose()

    assert before == {"": 0}
    assert samples(staged, "outbox_backlog_events") == {"": 1}
    assert samples(staged, "outbox_oldest_unpublished_age_seconds")[""] >= 0
    assert samples(published, "outbox_backlog_events") == {"": 0}
    assert samples(published, "outbox_oldest_unpublished_age_seconds") == {"": 0}


@pytest.mark.kafka
async def test_consumer_lag_per_partition_is_the_high_watermark_minus_the_position(
    sqlite_url: str, kafka_bootstrap: str, new_topic: Callable[..., Any]
) -> None:
    topic = await new_topic(partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(5):
            await producer.send_and_wait(topic, b"{}", partition=0)
    finally:
        await producer.stop()
    engine = make_engine(sqlite_url)
    group = f"kit-lag-{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(
        bootstrap_servers=kafka_bootstrap,
        topics=[topic],
        group_id=group,
        session_factory=make_session_factory(engine),
        processed_model=ProcessedEvent,
        handler=lambda session, event: _never(),
        dlq_producer=make_producer(kafka_bootstrap, client_id="kit-test-unused"),
    )
    await consumer.start()
    try:
        fetched = 0
        deadline = time.monotonic() + 30
        while fetched < 2 and time.monotonic() < deadline:
            for records in (await consumer.consumer.getmany(timeout_ms=500, max_records=2 - fetched)).values():
                fetched += len(records)
        assert fetched == 2
        await consumer.measure_lag(force=True)
        lag = {
            partition: REGISTRY.get_sample_value(
                "kafka_consumer_lag_records", {"group": group, "topic": topic, "partition": str(partition)}
            )
            for partition in (0, 1)
        }
    finally:
        await consumer.consumer.stop()
        await engine.dispose()

    assert lag == {0: 3, 1: 0}


async def _never() -> None:
    raise AssertionError("no record is handled in this test")


def test_a_worker_serves_its_metrics_on_metrics_port_and_logs_json(tmp_path: Any) -> None:
    port = free_port()
    script = f"""
import asyncio, os, signal
from typing import ClassVar
from pydantic_settings import SettingsConfigDict
from service_kit.settings import ServiceSettings
from service_kit.worker import run_worker

class WorkerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EP_KIT_WORKER_TEST_", env_file=None)
    service_name: ClassVar[str] = "kit-worker"

async def main(stop: asyncio.Event) -> None:
    print("READY", flush=True)
    await stop.wait()

run_worker("kit test worker", main, settings=WorkerSettings(metrics_port={port}))
"""
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "READY"
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        live = httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=5)
    finally:
        worker.terminate()
        _, stderr = worker.communicate(timeout=15)

    assert response.status_code == 200
    assert "process_resident_memory_bytes" in response.text
    assert live.status_code == 200, live.text
    assert live.json()["status"] == "ok"
    lines = json_lines(stderr)
    assert {line["message"] for line in lines} >= {"kit test worker started", "kit test worker stopped"}
    assert {line["service"] for line in lines} == {"kit-worker"}
    assert worker.returncode == 0


def test_a_worker_whose_loop_stopped_beating_answers_503_on_its_liveness() -> None:
    from wsgiref.util import setup_testing_defaults

    from service_kit.metrics import Heartbeat, worker_endpoints

    heartbeat = Heartbeat(stale_after=0.2)
    app = worker_endpoints(heartbeat)
    answers: list[str] = []

    def call(path: str) -> bytes:
        environ: dict[str, Any] = {"PATH_INFO": path}
        setup_testing_defaults(environ)
        return b"".join(app(environ, lambda status, headers: answers.append(status)))

    assert b'"ok"' in call("/health/live")
    time.sleep(0.3)  # no beat meanwhile: the loop would be blocked
    assert b'"stalled"' in call("/health/live")
    heartbeat.beat()
    call("/health/live")
    assert b"process_resident_memory_bytes" in call("/metrics") or b"python_info" in call("/metrics")
    assert answers[:3] == ["200 OK", "503 Service Unavailable", "200 OK"]
