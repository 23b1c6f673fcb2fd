"""The issue's scripted scenario: one family with two children, from an arrears signal through summons,
eviction date, OCO offers, a missing child-rights assessment that escalates, a postponed date, the
eviction, belongings storage and temporary housing refused (conditions missing) then granted, to closure.

Runs the real app on real PostgreSQL, the deadline worker with a moved clock, and the real outbox relay to
a real Kafka topic; asserts the events of the case on the topic, in order."""

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.db import OutboxRecord
from eviction_schemas.registry import validate_event
from service_kit.clock import FixedClock
from service_kit.outbox import OutboxRelay, make_producer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour - 1, 0, tzinfo=UTC)  # 10:00 in Amsterdam (winter)


async def run_deadline_worker(sessions: async_sessionmaker[AsyncSession], clock: FixedClock) -> None:
    from case_api.config import Settings
    from case_api.workers.deadlines import run_once

    await run_once(sessions, Settings(_env_file=None), clock)


async def publish_and_read(
    sessions: async_sessionmaker[AsyncSession], bootstrap: str, case_id: str
) -> list[dict[str, object]]:
    topic = f"scenario-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    await admin.close()
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxRecord).values(topic=topic))
    producer = make_producer(bootstrap, client_id="scenario-relay")
    await producer.start()
    try:
        relay = OutboxRelay(session_factory=sessions, model=OutboxRecord, producer=producer)
        while await relay.publish_batch():
            pass
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    events: list[dict[str, object]] = []
    try:
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                events += [json.loads(r.value) for r in records if r.key == case_id.encode()]
            if not batch and events:
                break
    finally:
        await consumer.stop()
    return sorted(events, key=lambda event: int(str(event["sequence"])))


async def test_a_family_with_two_children_from_signal_to_closure(
    case_api_client: Client,
    clock: FixedClock,
    sessions: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    clock.set(at(date(2026, 3, 2)))
    async with case_api_client() as client:

        async def post(path: str, body: dict[str, object], expect: int = 201) -> dict[str, object]:
            response = await client.post(path, json=body)
            assert response.status_code == expect, f"{path}: {response.text}"
            return response.json()  # type: ignore[no-any-return]

        receipt = await post(
            "/v1/signals",
            {"team": "team-noord", "household": made_up_household(postcode="8921 XY"), "signal": made_up_signal()},
        )
        case_id = str(receipt["case_id"])
        case = f"/v1/cases/{case_id}"
        await post(f"{case}/contact-attempts", {"channel": "home_visit", "reached": False})

        clock.set(at(date(2026, 3, 16)))
        await post(f"{case}/legal-steps", {"kind": "summons_served", "occurred_on": "2026-03-16",
                                           "court_reference": "ZAAK-TEST-1"})  # fmt: skip
        await post(f"{case}/oco-offers", {"moment": "threat_started", "channels": ["letter", "sms"]})

        clock.set(at(date(2026, 4, 7)))
        await post(f"{case}/eviction/schedule", {"eviction_date": "2026-05-12", "served_on": "2026-04-07"}, 200)
        await post(f"{case}/oco-offers", {"moment": "date_set", "channels": ["letter", "email", "sms"]})

        # No child-rights assessment: at T-5 working days it escalates to the team lead.
        clock.set(at(date(2026, 5, 5)))
        await run_deadline_worker(sessions, clock)

        # The bailiff postpones in time; every deadline moves with the date.
        clock.set(at(date(2026, 5, 8)))
        await post(f"{case}/eviction/postpone", {"eviction_date": "2026-06-16", "served_on": "2026-05-08"}, 200)
        await post(f"{case}/child-assessments", {
            "children_situation": "Two children at primary school.", "children_heard": True,
            "how_heard": "Talked with both at school with their teacher present.",
            "sleeping_place_after_eviction": "Not yet known.", "completed": True,
        })  # fmt: skip
        await post(f"{case}/oco-offers", {"moment": "week_before", "channels": ["sms", "email"]})

        # Temporary housing: refused while the conditions are missing, then granted once they are met.
        refused = await post(
            f"{case}/temporary-housing-decisions",
            {"granted": False, "refusal_reason": "No debt arrangement and no financial guidance yet.",
             "rehousing_outcome": "refused_with_reason"},
        )  # fmt: skip
        assert refused["granted"] is False
        await post(f"{case}/support", {"kind": "debt_arrangement", "started_on": "2026-05-08"})
        await post(f"{case}/support", {"kind": "protective_administration", "started_on": "2026-05-08"})
        granted = await post(f"{case}/temporary-housing-decisions", {"granted": True})
        assert granted["granted"] is True

        clock.set(at(date(2026, 6, 16)))
        await post(f"{case}/eviction/execute", {"executed_on": "2026-06-16"}, 200)
        await post(f"{case}/belongings", {
            "storage_place": "Municipal depot", "storage_reference": "OPSLAG-TEST-1",
            "inventory_reference": "PV-TEST-1", "stored_on": "2026-06-16", "costs": "850.00",
        })  # fmt: skip
        await post(f"{case}/close", {"outcome_code": "evicted"}, 200)

    events = await publish_and_read(sessions, kafka_bootstrap, case_id)
    for event in events:
        validate_event(event)
    names = [str(event["type"]).removeprefix("nl.eviction-prevention.") for event in events]
    expected_in_order = [
        "case.opened", "signal.received", "contact.attempted", "legal.summons-served", "oco.offered",
        "eviction.scheduled", "oco.offered", "task.overdue", "eviction.postponed", "child-assessment.recorded",
        "oco.offered", "temporary-housing.decided", "support.started", "support.started",
        "temporary-housing.decided", "eviction.executed", "belongings.stored", "case.closed",
    ]  # fmt: skip
    cursor = 0
    for name in expected_in_order:
        assert name in names[cursor:], f"{name} missing after position {cursor} in {names}"
        cursor = names.index(name, cursor) + 1
    assert [int(str(e["sequence"])) for e in events] == list(range(1, len(events) + 1))
    overdue = [e for e in events if e["type"] == "nl.eviction-prevention.task.overdue"]
    assert any(e["data"]["task_kind"] == "child_rights_assessment" for e in overdue)  # type: ignore[index]
