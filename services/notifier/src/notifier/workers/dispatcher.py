"""Hands requested notifications to their channels: `python -m notifier.workers.dispatcher`."""

import asyncio
import logging

from notifier.channels.base import Channel
from notifier.channels.file_outbox import FileOutboxChannel
from notifier.config import Settings, get_settings
from notifier.notifications.service import dispatch_requested
from service_kit.clock import SystemClock
from service_kit.db import make_engine, make_session_factory
from service_kit.worker import run_worker, sleep_or_stop

log = logging.getLogger(__name__)


def local_channels(settings: Settings) -> dict[str, Channel]:
    return {name: FileOutboxChannel(name, settings.outbox_dir) for name in ("email", "sms", "letter")}


async def dispatch(stop: asyncio.Event) -> None:
    settings = get_settings()
    clock = SystemClock()
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    channels = local_channels(settings)
    try:
        while not stop.is_set():
            try:
                async with sessions() as session, session.begin():
                    handed = await dispatch_requested(session, channels=channels, clock=clock)
            except Exception:
                log.exception("dispatch round failed; requested notifications stay requested")
                handed = 0
            if not handed:
                await sleep_or_stop(stop, settings.dispatch_interval_seconds)
    finally:
        await engine.dispose()


def main() -> None:
    run_worker("notifier dispatcher", dispatch, settings=get_settings())


if __name__ == "__main__":
    main()
