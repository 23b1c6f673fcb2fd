"""The notifier's outbox relay (notification.* events to the notification events topic):
`python -m notifier.workers.outbox_relay`."""

import asyncio

from notifier.config import get_settings
from notifier.db import OutboxRecord
from service_kit.outbox import relay_until_stopped
from service_kit.worker import run_worker


async def relay(stop: asyncio.Event) -> None:
    settings = get_settings()
    await relay_until_stopped(
        stop,
        model=OutboxRecord,
        database_url=settings.effective_database_url,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-outbox-relay",
        batch_size=settings.relay_batch_size,
        idle_interval=settings.relay_idle_interval_seconds,
    )


def main() -> None:
    run_worker("notifier outbox relay", relay, settings=get_settings())


if __name__ == "__main__":
    main()
