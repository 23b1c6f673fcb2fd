"""The transactional outbox: a change and the event that reports it are written in one transaction;
only the relay talks to Kafka (docs/adr/0002-outbox-and-relay.md)."""

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.types import JSON

from eviction_schemas.envelope import CloudEvent
from service_kit.db import UTCDateTime, make_engine, make_session_factory, supports_skip_locked
from service_kit.metrics import ServiceMetrics
from service_kit.worker import sleep_or_stop

log = logging.getLogger(__name__)

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"

# In the relay process's registry (its metrics server); the backlog gauges are the API's (install_outbox_metrics).
PUBLISHED_EVENTS = Counter("outbox_published_events_total", "Outbox events the relay published to Kafka.")


class OutboxMixin:
    """Columns of a service's `outbox` table; the service declares `class OutboxRecord(OutboxMixin, Base)`."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_type: Mapped[str] = mapped_column(String(120))
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            Index(
                "ix_outbox_unpublished",
                "id",
                postgresql_where=text("published_at IS NULL"),
                sqlite_where=text("published_at IS NULL"),
            ),
            Index("ix_outbox_key_id", "key", "id"),
        )


def outbox_row(*, topic: str, event: CloudEvent, now: datetime) -> dict[str, Any]:
    """The column values of one outbox row: keyed by the case id, so Kafka keeps order per case. For callers
    that insert many rows in one statement; `add_event` stages one as an ORM object."""
    headers = {"content-type": STRUCTURED_CONTENT_TYPE}
    if event.traceparent:
        headers["traceparent"] = event.traceparent
    return {
        "event_id": str(event.id),
        "event_type": event.type,
        "topic": topic,
        "key": event.subject,
        "payload": event.to_json_bytes(),
        "headers": headers,
        "created_at": now,
    }


def add_event(
    session: AsyncSession, model: type[OutboxMixin], *, topic: str, event: CloudEvent, now: datetime
) -> OutboxMixin:
    """Stage an event in the caller's transaction."""
    row = model()
    for name, value in outbox_row(topic=topic, event=event, now=now).items():
        setattr(row, name, value)
    session.add(row)
    return row


def make_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    # Idempotent with acks=all: a retried batch is written once and order per partition holds.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )


class OutboxRelay:
    """Claims unpublished rows, publishes them in a batch and marks them published.

    On PostgreSQL several relays may run: rows are claimed with FOR UPDATE SKIP LOCKED, and a key whose
    earlier row is held by another relay is left for later, so events of one case never overtake each
    other. SQLite allows a single relay.
    """

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        model: type[OutboxMixin],
        producer: AIOKafkaProducer,
        batch_size: int = 1000,
        idle_interval: float = 0.05,
    ) -> None:
        self._sessions = session_factory
        self._model = model
        self._producer = producer
        self._batch_size = batch_size
        self._idle_interval = idle_interval

    async def publish_batch(self) -> int:
        """Publish at most one batch; returns how many events went out.

        The rows are marked inside the claiming transaction, which commits only after Kafka acknowledged
        every record: a failed produce rolls the marks back and the rows are published by a later round.
        """
        async with self._sessions() as session, session.begin():
            if supports_skip_locked(session):
                rows = await self._claim_and_mark_postgres(session)
            else:
                rows = await self._claim_and_mark_single_writer(session)
            if not rows:
                return 0
            futures = []
            for row in rows:
                headers = [(name, value.encode()) for name, value in (row.headers or {}).items()]
                futures.append(
                    await self._producer.send(row.topic, value=row.payload, key=row.key.encode(), headers=headers)
                )
            await asyncio.gather(*futures)
        PUBLISHED_EVENTS.inc(len(rows))
        return len(rows)

    async def _claim_and_mark_postgres(self, session: AsyncSession) -> list[Any]:
        # One round trip: claim unpublished rows that no other relay holds, leave out every key whose
        # earlier unpublished row another relay holds (so one case's events never overtake each other),
        # and mark the rest.
        table = self._model.__tablename__
        claim = text(
            f"""
            WITH claimed AS (
                SELECT id, key FROM {table} WHERE published_at IS NULL
                ORDER BY id LIMIT :batch_size FOR UPDATE SKIP LOCKED
            ),
            blocked AS (
                SELECT DISTINCT claimed.key FROM claimed
                JOIN {table} AS earlier ON earlier.key = claimed.key AND earlier.id < claimed.id
                    AND earlier.published_at IS NULL
                WHERE earlier.id NOT IN (SELECT id FROM claimed)
            )
            UPDATE {table} SET published_at = :now FROM claimed
            WHERE {table}.id = claimed.id AND claimed.key NOT IN (SELECT key FROM blocked)
            RETURNING {table}.id, {table}.key, {table}.topic, {table}.payload, {table}.headers
            """  # noqa: S608 - the table name comes from the model class, never from input
        )
        result = await session.execute(claim, {"batch_size": self._batch_size, "now": datetime.now(UTC)})
        return sorted(result.all(), key=lambda row: row.id)

    async def _claim_and_mark_single_writer(self, session: AsyncSession) -> list[Any]:
        model = self._model
        rows = list(
            (
                await session.execute(
                    select(model.id, model.key, model.topic, model.payload, model.headers)
                    .where(model.published_at.is_(None))
                    .order_by(model.id)
                    .limit(self._batch_size)
                )
            ).all()
        )
        if rows:
            await session.execute(
                update(model)
                .where(model.id.in_([row.id for row in rows]))
                .values(published_at=datetime.now(UTC))
                .execution_options(synchronize_session=False)
            )
        return rows

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; the batch in flight is finished first (drain on shutdown)."""
        while not stop.is_set():
            try:
                published = await self.publish_batch()
            except Exception:
                log.exception("outbox relay: publishing failed; rows stay unpublished and are retried")
                published = 0
                await sleep_or_stop(stop, 1.0)
            if published < self._batch_size:
                await sleep_or_stop(stop, self._idle_interval)

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many rows wait, and when the oldest was written."""
        async with self._sessions() as session:
            return await outbox_backlog(session, self._model)


async def relay_until_stopped(
    stop: asyncio.Event,
    *,
    model: type[OutboxMixin],
    database_url: str,
    bootstrap_servers: str,
    client_id: str,
    batch_size: int,
    idle_interval: float,
) -> None:
    """A service's outbox relay process: its own engine and idempotent producer, relaying until `stop`."""
    engine = make_engine(database_url)
    producer = make_producer(bootstrap_servers, client_id=client_id)
    await producer.start()
    try:
        await OutboxRelay(
            session_factory=make_session_factory(engine),
            model=model,
            producer=producer,
            batch_size=batch_size,
            idle_interval=idle_interval,
        ).run(stop)
    finally:
        await producer.stop()
        await engine.dispose()


async def outbox_backlog(session: AsyncSession, model: type[OutboxMixin]) -> tuple[int, datetime | None]:
    """How many rows wait to be published, and when the oldest was written (the partial index answers it)."""
    count, oldest = (
        await session.execute(select(func.count(), func.min(model.created_at)).where(model.published_at.is_(None)))
    ).one()
    return int(count), oldest


def install_outbox_metrics(app: FastAPI, model: type[OutboxMixin]) -> None:
    """Gauges of the outbox on the API's /metrics, computed when scraped: any replica gives the same figure."""
    metrics: ServiceMetrics = app.state.metrics
    backlog = Gauge("outbox_backlog_events", "Outbox rows not yet published to Kafka.", registry=metrics.registry)
    oldest_age = Gauge(
        "outbox_oldest_unpublished_age_seconds",
        "Age of the oldest outbox row not yet published; 0 when none waits.",
        registry=metrics.registry,
    )

    async def refresh() -> None:
        async with app.state.session_factory() as session:
            count, oldest = await outbox_backlog(session, model)
        backlog.set(count)
        oldest_age.set(max(0.0, (datetime.now(UTC) - oldest).total_seconds()) if oldest else 0.0)

    metrics.on_scrape(refresh)
