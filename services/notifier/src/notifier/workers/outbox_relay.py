"""The notifier's outbox relay (notification.* events to the notification events topic):
`python -m notifier.workers.outbox_relay`."""

import asyncio

from notifier.config import get_settings
from notifier.db import OutboxRecord
from service_kit.db import make_engine, make_session_factory
from service_kit.outbox import OutboxRelay, make_producer
from service_kit.worker import run_worker


async def relay(stop: asyncio.Event) -> None:
    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    producer = make_producer(settings.kafka_bootstrap_servers, client_id=f"{settings.service_name}-outbox-relay")
    await producer.start()
    try:
        await OutboxRelay(
            session_factory=make_session_factory(engine),
            model=OutboxRecord,
            producer=producer,
            batch_size=settings.relay_batch_size,
            idle_interval=settings.relay_idle_interval_seconds,
        ).run(stop)
    finally:
        await producer.stop()
        await engine.dispose()


def main() -> None:
    run_worker("notifier outbox relay", relay, settings=get_settings())


if __name__ == "__main__":
    main()
