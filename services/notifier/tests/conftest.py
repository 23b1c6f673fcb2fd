"""Fixtures of the notifier's tests: a migrated database on the session's real PostgreSQL, fresh topics on
the session's real Kafka broker, an EventConsumer that runs in the background of a test, case events as
case-api publishes them, and a Dispatcher on the test's database with channels that record what they were
handed.

Test modules cannot import this file (pytest imports it in importlib mode), so its helpers are handed out by
fixtures: `events`, `channel_factory`, `static_contacts`, `make_dispatcher`, `apply_events`."""

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import RecordMetadata
from notifier_fixtures import MADE_UP_HOUSEHOLD
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eviction_schemas.envelope import STRUCTURED_CONTENT_TYPE, CloudEvent, dlq_topic, make_event
from eviction_schemas.registry import load_sample, validate_cloud_event
from notifier.channels.base import Channel, HandOver, OutgoingMessage
from notifier.config import Settings
from notifier.db import OutboxRecord, ProcessedEvent
from notifier.migrate import SCRIPT_LOCATION
from notifier.notifications.choice import TASK, QuietHours
from notifier.notifications.lifecycle import Policy
from notifier.notifications.models import (
    CaseState,
    ChannelDecision,
    DeliveryAttempt,
    Notification,
    PlannedMoment,
)
from notifier.notifications.moments import Timing
from notifier.notifications.service import Dispatcher, apply_event
from notifier.templating.context import ContactLookup, Household, Sender
from notifier.workers.consumer import handler as notifier_handler
from service_kit.calendar import working_day_calendar
from service_kit.clock import SystemClock
from service_kit.consumer import EventConsumer, Handler
from service_kit.db import make_engine, make_session_factory
from service_kit.migrations import upgrade_to_head
from service_kit.outbox import make_producer
from service_kit.settings import DEVELOPMENT_OIN

Sessions = async_sessionmaker[AsyncSession]

TIMEZONE = "Europe/Amsterdam"
ZONE = ZoneInfo(TIMEZONE)
TEAM = "team-noord"
# A Monday morning (10:30 in Amsterdam): no quiet hours, a working day.
OPENED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TIMING = Timing(calendar=working_day_calendar(TIMEZONE), send_hour=10)
NOTIFICATION_TOPIC = "eviction-prevention.notification-events.v1"
POLICY = Policy(oin=DEVELOPMENT_OIN, topic=NOTIFICATION_TOPIC)
QUIET = QuietHours(ZONE)
WRITTEN = ("email", "sms", "letter")


async def eventually(condition: Callable[[], Awaitable[object]], *, what: str, timeout: float = 30.0) -> object:
    """Poll `condition` until it answers something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await condition()
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --- case events ---------------------------------------------------------------------------------------

_sequence = itertools.count(1)


class Events:
    """Valid case events as case-api publishes them (checked against the contract: a test event that broke it
    would prove nothing). Each builder takes the case id (a new one when None) and the event's time."""

    def make(self, name: str, case_id: str | None = None, *, at: datetime = OPENED_AT, **data: Any) -> CloudEvent:
        case_id = case_id or str(uuid.uuid4())
        values = {**load_sample(name)["data"], **data}
        if "case_id" in values:
            values["case_id"] = case_id
        event = make_event(
            event=name,
            source_service="case-api",
            oin=DEVELOPMENT_OIN,
            subject=case_id,
            sequence=next(_sequence),
            time=at,
            data=values,
        )
        validate_cloud_event(event)
        return event

    def opened(
        self,
        case_id: str | None = None,
        *,
        opened_by: str = "signal",
        team: str = TEAM,
        at: datetime = OPENED_AT,
    ) -> CloudEvent:
        return self.make(
            "case.opened",
            case_id,
            at=at,
            household_id=str(uuid.uuid4()),
            opened_by=opened_by,
            priority="high",
            has_minors=True,
            team=team,
        )

    def contact_attempted(self, case_id: str, *, reached: bool, at: datetime = OPENED_AT) -> CloudEvent:
        return self.make(
            "contact.attempted",
            case_id,
            at=at,
            channel="home_visit",
            reached=reached,
            attempted_on=at.date().isoformat(),
            part_of_day="afternoon",
        )

    def summons_served(self, case_id: str, *, served_on: date, at: datetime = OPENED_AT) -> CloudEvent:
        return self.make("legal.summons-served", case_id, at=at, served_on=served_on.isoformat())

    def scheduled(self, case_id: str, *, eviction_date: date, at: datetime = OPENED_AT) -> CloudEvent:
        return self.make("eviction.scheduled", case_id, at=at, eviction_date=eviction_date.isoformat())

    def postponed(self, case_id: str, *, eviction_date: date, previous: date, at: datetime = OPENED_AT) -> CloudEvent:
        return self.make(
            "eviction.postponed",
            case_id,
            at=at,
            eviction_date=eviction_date.isoformat(),
            previous_eviction_date=previous.isoformat(),
        )

    def cancelled(self, case_id: str, *, eviction_date: date, at: datetime = OPENED_AT) -> CloudEvent:
        return self.make(
            "eviction.cancelled",
            case_id,
            at=at,
            eviction_date=eviction_date.isoformat(),
            reason_code="second_chance_agreement",
        )

    def executed(self, case_id: str, *, executed_on: date, at: datetime = OPENED_AT) -> CloudEvent:
        return self.make("eviction.executed", case_id, at=at, executed_on=executed_on.isoformat())

    def stored(
        self, case_id: str, *, stored_on: date, retention_ends_on: date, reference: str = "INB-2026-0007", at: datetime
    ) -> CloudEvent:
        return self.make(
            "belongings.stored",
            case_id,
            at=at,
            storage_reference=reference,
            stored_on=stored_on.isoformat(),
            retention_ends_on=retention_ends_on.isoformat(),
        )

    def returned(self, case_id: str, *, reference: str = "INB-2026-0007", at: datetime) -> CloudEvent:
        return self.make(
            "belongings.returned", case_id, at=at, storage_reference=reference, returned_on=at.date().isoformat()
        )

    def disposed(self, case_id: str, *, reference: str = "INB-2026-0007", at: datetime) -> CloudEvent:
        return self.make(
            "belongings.disposed",
            case_id,
            at=at,
            storage_reference=reference,
            disposed_on=at.date().isoformat(),
            method="destroyed",
        )

    def housing_decided(self, case_id: str, *, granted: bool, at: datetime = OPENED_AT) -> CloudEvent:
        return self.make("temporary-housing.decided", case_id, at=at, granted=granted)

    def closed(self, case_id: str, *, at: datetime = OPENED_AT) -> CloudEvent:
        return self.make("case.closed", case_id, at=at, outcome="eviction_averted")


EVENTS = Events()


def case_opened(case_id: str | None = None, *, opened_by: str = "signal", team: str = TEAM) -> CloudEvent:
    """A valid case.opened as case-api publishes it."""
    return EVENTS.opened(case_id, opened_by=opened_by, team=team)


@pytest.fixture
def events() -> Events:
    return EVENTS


@pytest.fixture
def new_case_opened() -> Callable[..., CloudEvent]:
    return case_opened


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[object]]:
    return eventually


# --- the database --------------------------------------------------------------------------------------


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

    async def _all(self, query: Any) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.scalars(query)).all())

    async def planned(self, case_id: str | None = None) -> list[PlannedMoment]:
        """Planned moments, by due time (then moment and occasion)."""
        query = select(PlannedMoment).order_by(PlannedMoment.due_at, PlannedMoment.moment, PlannedMoment.occasion)
        if case_id is not None:
            query = query.where(PlannedMoment.case_id == case_id)
        return await self._all(query)

    async def count_planned(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(PlannedMoment)) or 0)

    async def case_state(self, case_id: str) -> CaseState | None:
        async with self.sessions() as session:
            return await session.get(CaseState, case_id)

    async def notifications(self, case_id: str | None = None) -> list[Notification]:
        query = select(Notification).order_by(Notification.created_at, Notification.case_id, Notification.channel)
        if case_id is not None:
            query = query.where(Notification.case_id == case_id)
        return await self._all(query)

    async def notification(self, notification_id: str) -> Notification:
        async with self.sessions() as session:
            found = await session.get(Notification, notification_id)
        assert found is not None, f"no notification {notification_id}"
        return found

    async def count_notifications(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Notification)) or 0)

    async def decisions(self, case_id: str | None = None) -> list[ChannelDecision]:
        query = select(ChannelDecision).order_by(ChannelDecision.decided_at, ChannelDecision.moment)
        if case_id is not None:
            query = query.where(ChannelDecision.case_id == case_id)
        return await self._all(query)

    async def attempts(self, notification_id: str | None = None) -> list[DeliveryAttempt]:
        query = select(DeliveryAttempt).order_by(DeliveryAttempt.id)
        if notification_id is not None:
            query = query.where(DeliveryAttempt.notification_id == notification_id)
        return await self._all(query)

    async def outbox(self) -> list[OutboxRecord]:
        return await self._all(select(OutboxRecord).order_by(OutboxRecord.id))

    async def outbox_events(self, event_name: str | None = None) -> list[CloudEvent]:
        """The outbox rows as the events the relay publishes, oldest first."""
        found = [CloudEvent.from_json_bytes(row.payload) for row in await self.outbox()]
        return [e for e in found if event_name is None or e.event_name == event_name]

    async def processed(self) -> list[tuple[str, str, str]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(ProcessedEvent.source, ProcessedEvent.event_id, ProcessedEvent.consumer_group)
            )
            return [tuple(row) for row in rows.all()]


@pytest.fixture
def ledger(sessions: Sessions) -> Ledger:
    return Ledger(sessions)


@pytest.fixture
def apply_events(sessions: Sessions) -> Callable[..., Awaitable[None]]:
    """`await apply_events(*events)`: each event planned as the consumer does, in a transaction of its own, at
    the event's time."""

    async def apply(*events: CloudEvent) -> None:
        for event in events:
            async with sessions() as session, session.begin():
                await apply_event(session, event=event, timing=TIMING, now=event.time)

    return apply


# --- channels, contacts and the dispatcher -------------------------------------------------------------


class RecordingChannel:
    """A channel that records every message handed to it and accepts it, unless told to answer a temporary or
    permanent failure for some notifications (or for all of them)."""

    def __init__(self, name: str, *, awaits_report: bool = False, delay: float = 0.0) -> None:
        self.name = name
        self.awaits_report = awaits_report
        self.delay = delay
        self.messages: list[OutgoingMessage] = []
        self._failures: dict[str, HandOver] = {}
        self._always: HandOver | None = None

    def fail(self, *notification_ids: str, permanent: bool, reason: str = "provider_said_no") -> None:
        for notification_id in notification_ids:
            self._failures[notification_id] = HandOver(accepted=False, permanent=permanent, reason=reason)

    def fail_always(self, *, permanent: bool, reason: str = "provider_said_no") -> None:
        self._always = HandOver(accepted=False, permanent=permanent, reason=reason)

    def succeed(self) -> None:
        self._failures.clear()
        self._always = None

    @property
    def ids(self) -> list[str]:
        return [m.notification_id for m in self.messages]

    async def send(self, message: OutgoingMessage) -> HandOver:
        self.messages.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        failure = self._failures.get(message.notification_id) or self._always
        if failure is not None:
            return failure
        return HandOver(accepted=True, provider_reference=f"rec-{message.notification_id}")


def recording_channels(**options: Any) -> dict[str, RecordingChannel]:
    return {name: RecordingChannel(name, **options) for name in (*WRITTEN, TASK)}


@dataclass(frozen=True)
class StaticContacts:
    """case-api answering one household for every case (None: unknown or erased)."""

    found: Household | None

    async def household(self, case_id: str) -> Household | None:
        return self.found


class UnavailableContacts:
    """case-api down: every read fails."""

    def __init__(self) -> None:
        self.asked = 0

    async def household(self, case_id: str) -> Household | None:
        self.asked += 1
        raise ConnectionError("case-api is down")


def household(**changes: Any) -> Household:
    """The made-up household with `changes` (its facts stay, so every template renders)."""
    return replace(MADE_UP_HOUSEHOLD, **changes)


@dataclass(frozen=True)
class Helpers:
    """What the test modules use but cannot import."""

    RecordingChannel: type[RecordingChannel] = RecordingChannel
    StaticContacts: type[StaticContacts] = StaticContacts
    UnavailableContacts: type[UnavailableContacts] = UnavailableContacts
    household: Callable[..., Household] = household
    recording_channels: Callable[..., dict[str, RecordingChannel]] = recording_channels
    timing: Timing = TIMING
    policy: Policy = POLICY
    quiet: QuietHours = QUIET
    zone: ZoneInfo = ZONE
    opened_at: datetime = OPENED_AT
    team: str = TEAM


@pytest.fixture
def helpers() -> Helpers:
    return Helpers()


@pytest.fixture
def channels() -> dict[str, RecordingChannel]:
    """Recording channels for email, sms, letter and caseworker_task; the `dispatcher` fixture uses them."""
    return recording_channels()


@pytest.fixture
def make_dispatcher(sessions: Sessions) -> Callable[..., Dispatcher]:
    """A Dispatcher on the test's database: recording channels (new ones unless given), the made-up household
    (or `household=` one, or `contacts=`), the test policy and the Amsterdam quiet hours."""

    def make(
        *,
        channels: dict[str, Channel] | dict[str, RecordingChannel] | None = None,
        household: Household | None = None,
        contacts: ContactLookup | None = None,
        policy: Policy = POLICY,
        **options: Any,
    ) -> Dispatcher:
        if contacts is None:
            contacts = StaticContacts(household if household is not None else MADE_UP_HOUSEHOLD)
        return Dispatcher(
            sessions=sessions,
            channels=dict(channels) if channels is not None else dict(recording_channels()),
            contacts=contacts,
            sender=Sender(),
            policy=policy,
            quiet=QUIET,
            **options,
        )

    return make


@pytest.fixture
def dispatcher(make_dispatcher: Callable[..., Dispatcher], channels: dict[str, RecordingChannel]) -> Dispatcher:
    return make_dispatcher(channels=channels)


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


def consumer_settings() -> Settings:
    """The consumer worker's settings as the tests pin them: Amsterdam time, time-based moments at 10:00."""
    return Settings(_env_file=None, timezone=TIMEZONE, scheduled_send_hour=10)


@pytest.fixture
def default_handler() -> Handler:
    """The consumer worker's own handler (apply_event with the worker's timing), on the system clock."""
    return notifier_handler(consumer_settings(), SystemClock())


@pytest.fixture
def make_consumer(
    stream: Stream, sessions: Sessions, producer: AIOKafkaProducer, default_handler: Handler
) -> Callable[..., RecordingConsumer]:
    """A new consumer instance of the test's group; the handler defaults to the notifier's own."""

    def make(handler: Handler | None = None, **options: Any) -> RecordingConsumer:
        return RecordingConsumer(
            bootstrap_servers=stream.bootstrap,
            topics=[stream.topic],
            group_id=stream.group,
            session_factory=sessions,
            processed_model=ProcessedEvent,
            handler=handler or default_handler,
            dlq_producer=producer,
            **options,
        )

    return make
