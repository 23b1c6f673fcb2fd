"""The case-event consumer: `python -m notifier.workers.consumer`."""

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from eviction_schemas.envelope import CloudEvent
from notifier.config import get_settings
from notifier.db import ProcessedEvent
from notifier.notifications.service import request_for_event
from service_kit.clock import SystemClock
from service_kit.consumer import consume_until_stopped
from service_kit.worker import run_worker


async def consume(stop: asyncio.Event) -> None:
    settings = get_settings()
    clock = SystemClock()

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await request_for_event(session, event=event, clock=clock)

    await consume_until_stopped(
        stop,
        database_url=settings.effective_database_url,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topics=[settings.case_events_topic],
        group_id=settings.consumer_group,
        processed_model=ProcessedEvent,
        handler=handle,
    )


def main() -> None:
    run_worker("notifier consumer", consume, settings=get_settings())


if __name__ == "__main__":
    main()
