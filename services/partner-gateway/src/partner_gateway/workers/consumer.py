"""Turns case events into pending deliveries: `python -m partner_gateway.workers.consumer`."""

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from eviction_schemas.envelope import CloudEvent
from partner_gateway.config import get_settings
from partner_gateway.db import ProcessedEvent
from partner_gateway.deliveries.service import fan_out
from service_kit.clock import SystemClock
from service_kit.consumer import EventConsumer
from service_kit.db import make_engine, make_session_factory
from service_kit.outbox import make_producer
from service_kit.worker import run_worker


async def consume(stop: asyncio.Event) -> None:
    settings = get_settings()
    clock = SystemClock()
    engine = make_engine(settings.effective_database_url)
    dlq = make_producer(settings.kafka_bootstrap_servers, client_id=f"{settings.consumer_group}-dlq")

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await fan_out(session, event=event, clock=clock)

    consumer = EventConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topics=[settings.case_events_topic],
        group_id=settings.consumer_group,
        session_factory=make_session_factory(engine),
        processed_model=ProcessedEvent,
        handler=handle,
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


def main() -> None:
    run_worker("partner-gateway consumer", consume, log_level=get_settings().log_level)


if __name__ == "__main__":
    main()
