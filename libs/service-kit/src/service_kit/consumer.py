"""A Kafka consumer that loses nothing and doubles nothing (docs/adr/0004).

Per record: one database transaction runs the handler and records the event's `source`+`id`; offsets are
committed to Kafka only after that commit. A redelivered record finds its id recorded and is skipped.
Undecodable records, and records whose handler fails every retry, go to the dead-letter topic with
their provenance in headers; the consumer goes on.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from opentelemetry.trace import SpanKind
from prometheus_client import Gauge
from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from eviction_schemas.envelope import CloudEvent, dlq_topic
from service_kit.db import UTCDateTime, make_engine, make_session_factory
from service_kit.outbox import make_producer
from service_kit.tracing import span

log = logging.getLogger(__name__)

# In the consumer process's registry, served by its metrics server (METRICS_PORT).
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag_records",
    "Records of an assigned partition not yet consumed: high watermark minus the consumer's position.",
    ["group", "topic", "partition"],
)
LAG_INTERVAL_SECONDS = 1.0

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]


class ProcessedEventMixin:
    """A service's `processed_event` table: the ids of events whose effects are committed."""

    __tablename__ = "processed_event"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    consumer_group: Mapped[str] = mapped_column(String(100), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: "EventConsumer") -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._owner.commit_done()
        self._owner.forget_lag(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


class EventConsumer:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topics: list[str],
        group_id: str,
        session_factory: async_sessionmaker[AsyncSession],
        processed_model: type[ProcessedEventMixin],
        handler: Handler,
        dlq_producer: AIOKafkaProducer,
        max_attempts: int = 5,
        retry_backoff: float = 0.5,
        max_records: int = 500,
        client_id: str | None = None,
    ) -> None:
        self._topics = topics
        self._group_id = group_id
        self._sessions = session_factory
        self._processed = processed_model
        self._handler = handler
        self._dlq = dlq_producer
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
        self._max_records = max_records
        self._done: dict[TopicPartition, int] = {}
        self._lag_measured_at = 0.0
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=client_id or group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )

    async def start(self) -> None:
        self.consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
        await self.consumer.start()

    async def stop(self) -> None:
        try:
            await self.commit_done()
        finally:
            await self.consumer.stop()

    async def commit_done(self) -> None:
        """Commit the offsets of records whose effects are already in the database."""
        if not self._done:
            return
        offsets = {tp: offset + 1 for tp, offset in self._done.items()}
        self._done = {}
        try:
            await self.consumer.commit(offsets)
        except Exception:
            # Not fatal: those records come again and are skipped as already processed.
            log.warning("offset commit failed; records will be redelivered and deduplicated", exc_info=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; the batch in hand is finished and committed first (drain)."""
        while not stop.is_set():
            batches = await self.consumer.getmany(timeout_ms=200, max_records=self._max_records)
            for tp, records in batches.items():
                for record in records:
                    await self.process(record)
                    self._done[tp] = record.offset
            await self.commit_done()
            await self.measure_lag()

    async def measure_lag(self, *, force: bool = False) -> None:
        """Set the lag gauge of every assigned partition, at most once a second (the positions are local)."""
        now = asyncio.get_running_loop().time()
        if not force and now - self._lag_measured_at < LAG_INTERVAL_SECONDS:
            return
        self._lag_measured_at = now
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue  # nothing fetched from this partition yet
            position = await self.consumer.position(tp)
            CONSUMER_LAG.labels(self._group_id, tp.topic, str(tp.partition)).set(max(0, highwater - position))

    def forget_lag(self, partitions: list[TopicPartition]) -> None:
        """A partition handed to another consumer is that consumer's to report."""
        for tp in partitions:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self._group_id, tp.topic, str(tp.partition))

    async def process(self, record: ConsumerRecord[Any, Any]) -> None:
        try:
            event = CloudEvent.from_json_bytes(record.value)
        except Exception as error:
            traceparent = _header(record, "traceparent")
            with span(f"{record.topic} process", traceparent=traceparent, kind=SpanKind.CONSUMER):
                where = (record.topic, record.partition, record.offset)
                log.warning("undecodable record at %s[%d]@%d; dead-lettered", *where)
                await self._dead_letter(record, reason="undecodable", error=error)
            return
        # The event's trace continues here: the logs of its handling carry the trace id of its HTTP request.
        traceparent = event.traceparent or _header(record, "traceparent")
        with span(f"{record.topic} process", traceparent=traceparent, kind=SpanKind.CONSUMER):
            await self._process_event(record, event)
            where = (record.topic, record.partition, record.offset)
            log.info("event %s (%s) at %s[%d]@%d processed", event.id, event.type, *where)

    async def _process_event(self, record: ConsumerRecord[Any, Any], event: CloudEvent) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._apply_once(event)
                return
            except Exception as error:
                if attempt == self._max_attempts:
                    log.exception("event %s failed %d times; dead-lettered", event.id, attempt)
                    await self._dead_letter(record, reason="handler-failed", error=error)
                    return
                await asyncio.sleep(self._retry_backoff * 2 ** (attempt - 1))

    async def _already_processed(self, session: AsyncSession, event: CloudEvent) -> bool:
        model = self._processed
        seen = await session.scalar(
            select(model.event_id).where(
                model.source == event.source,
                model.event_id == str(event.id),
                model.consumer_group == self._group_id,
            )
        )
        return seen is not None

    async def _apply_once(self, event: CloudEvent) -> None:
        model = self._processed
        async with self._sessions() as session:
            if await self._already_processed(session, event):
                return
            await self._handler(session, event)
            marker = model()
            marker.source = event.source
            marker.event_id = str(event.id)
            marker.consumer_group = self._group_id
            marker.processed_at = datetime.now(UTC)
            session.add(marker)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                # A concurrent consumer of the same group committed it first: its effects stand. Any
                # other broken constraint is this attempt failing: retried, then dead-lettered, never lost.
                if not await self._already_processed(session, event):
                    raise

    async def _dead_letter(self, record: ConsumerRecord[Any, Any], *, reason: str, error: Exception) -> None:
        headers = [
            *(record.headers or []),
            ("dlq-reason", reason.encode()),
            ("dlq-error", f"{type(error).__name__}: {error}"[:500].encode()),
            ("dlq-original-topic", record.topic.encode()),
            ("dlq-original-partition", str(record.partition).encode()),
            ("dlq-original-offset", str(record.offset).encode()),
            ("dlq-consumer-group", self._group_id.encode()),
            ("dlq-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        await self._dlq.send_and_wait(
            dlq_topic(record.topic, self._group_id), value=record.value, key=record.key, headers=headers
        )


def _header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def consume_until_stopped(
    stop: asyncio.Event,
    *,
    database_url: str,
    bootstrap_servers: str,
    topics: list[str],
    group_id: str,
    processed_model: type[ProcessedEventMixin],
    handler: Handler,
) -> None:
    """The body of a consumer worker process: engine, dead-letter producer and consumer, opened and closed."""
    engine = make_engine(database_url)
    dlq = make_producer(bootstrap_servers, client_id=f"{group_id}-dlq")
    consumer = EventConsumer(
        bootstrap_servers=bootstrap_servers,
        topics=topics,
        group_id=group_id,
        session_factory=make_session_factory(engine),
        processed_model=processed_model,
        handler=handler,
        dlq_producer=dlq,
    )
    await dlq.start()
    await consumer.start()
    try:
        await consumer.run(stop)
    finally:
        await consumer.stop()
        await dlq.stop()
        await engine.dispose()
