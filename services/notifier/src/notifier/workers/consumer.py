"""The case-event consumer: `python -m notifier.workers.consumer`. Each event plans or cancels moments in the
transaction that records it as processed (service.apply_event); the dispatcher does the rest."""

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from eviction_schemas.envelope import CloudEvent
from notifier.config import Settings, get_settings
from notifier.db import ProcessedEvent
from notifier.notifications.moments import Timing
from notifier.notifications.service import apply_event
from service_kit.calendar import working_day_calendar
from service_kit.clock import Clock, SystemClock
from service_kit.consumer import Handler, consume_until_stopped
from service_kit.worker import run_worker


def timing_of(settings: Settings) -> Timing:
    return Timing(calendar=working_day_calendar(settings.timezone), send_hour=settings.scheduled_send_hour)


def handler(settings: Settings, clock: Clock) -> Handler:
    timing = timing_of(settings)

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await apply_event(session, event=event, timing=timing, now=clock.now())

    return handle


async def consume(stop: asyncio.Event) -> None:
    settings = get_settings()
    await consume_until_stopped(
        stop,
        database_url=settings.effective_database_url,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topics=[settings.case_events_topic],
        group_id=settings.consumer_group,
        processed_model=ProcessedEvent,
        handler=handler(settings, SystemClock()),
    )


def main() -> None:
    run_worker("notifier consumer", consume, settings=get_settings())


if __name__ == "__main__":
    main()
