"""Running a long-lived worker process: one stop event, set by SIGTERM or SIGINT, so work drains."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from service_kit.logs import configure_logging
from service_kit.metrics import Heartbeat, start_worker_metrics_server
from service_kit.settings import ServiceSettings

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0  # how often the loop proves it runs; liveness fails after Heartbeat.stale_after (60 s)


def run_worker(name: str, main: Callable[[asyncio.Event], Awaitable[None]], *, settings: ServiceSettings) -> None:
    """JSON logs, the metrics server with the liveness answer when METRICS_PORT is set, and `main(stop)` until
    SIGTERM or SIGINT."""
    configure_logging(service=settings.service_name, level=settings.log_level)
    heartbeat = Heartbeat()
    start_worker_metrics_server(settings.metrics_port, settings.metrics_host, heartbeat)

    async def beat(stop: asyncio.Event) -> None:
        while not stop.is_set():
            heartbeat.beat()
            await sleep_or_stop(stop, HEARTBEAT_SECONDS)

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info("%s started", name)
        beating = asyncio.create_task(beat(stop))
        try:
            await main(stop)
        finally:
            stop.set()
            await beating
        log.info("%s stopped", name)

    asyncio.run(runner())


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when `stop` is set meanwhile: idle loops stay responsive to SIGTERM."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
