"""The retention worker (R18): `python -m case_api.workers.retention` erases due personal data every
`retention_interval_seconds` (daily by default), one batch per transaction."""

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.config import Settings, get_settings
from case_api.context import Context
from case_api.retention.service import RETENTION_PRINCIPAL, erase_due, forget_idempotency_answers
from service_kit.clock import Clock, SystemClock
from service_kit.db import make_engine, make_session_factory
from service_kit.worker import run_worker, sleep_or_stop

log = logging.getLogger(__name__)


async def run_once(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock, stop: asyncio.Event | None = None
) -> int:
    """Erase every due case, a batch per transaction; returns how many were erased."""
    erased = 0
    while stop is None or not stop.is_set():
        async with sessions() as session, session.begin():
            batch = await erase_due(
                Context(session=session, settings=settings, clock=clock, principal=RETENTION_PRINCIPAL)
            )
        erased += batch
        if batch == 0:
            break
    async with sessions() as session, session.begin():
        ctx = Context(session=session, settings=settings, clock=clock, principal=RETENTION_PRINCIPAL)
        forgotten = await forget_idempotency_answers(ctx)
    log.info("retention: erased the personal data of %d case(s), forgot %d idempotency answer(s)", erased, forgotten)
    return erased


async def retain(stop: asyncio.Event) -> None:
    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    try:
        while not stop.is_set():
            try:
                await run_once(sessions, settings, SystemClock(), stop)
            except Exception:  # a failed round is retried at the next interval; the worker keeps running
                log.exception("retention round failed")
            await sleep_or_stop(stop, settings.retention_interval_seconds)
    finally:
        await engine.dispose()


def main() -> None:
    run_worker("case-api retention", retain, settings=get_settings())


if __name__ == "__main__":
    main()
