"""The inbound worker: forwards partners' received messages to case-api. `python -m partner_gateway.workers.inbound`.

While case-api is down (or refuses the service token) every message stays `received` and its next attempt
moves further out, up to `inbound_retry_max_seconds`; nothing is given up, so all of them reach case-api when
it is back.
"""

import asyncio
import logging

import httpx
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from partner_gateway.config import Settings, get_settings
from partner_gateway.inbound.case_api import CaseApi, TokenFile
from partner_gateway.inbound.forwarding import process_message
from partner_gateway.inbound.models import InboundMessage, InboundStatus
from partner_gateway.inbound.repository import InboundRepository
from service_kit.clock import Clock, SystemClock
from service_kit.db import make_engine, make_session_factory
from service_kit.worker import run_worker, sleep_or_stop

log = logging.getLogger(__name__)


async def process_next(
    sessions: async_sessionmaker[AsyncSession], *, case_api: CaseApi, settings: Settings, clock: Clock
) -> bool:
    """One due message in its own transaction (its row locked while case-api is asked); False when none is due.

    A message whose processing fails for a reason that another attempt cannot cure (a bug, a value the case-api
    client cannot encode) ends `failed` with that reason in its own transaction, so it never holds back the
    messages after it; the order that `due` keeps is per partner and reference only. A database or network
    error is passing: it propagates and the message stays received."""
    failing: str | None = None
    try:
        async with sessions() as session, session.begin():
            due = await InboundRepository(session).due(now=clock.now(), limit=1)
            if not due:
                return False
            failing = due[0].id
            await process_message(session, message=due[0], case_api=case_api, settings=settings, clock=clock)
            return True
    except (DBAPIError, OSError, httpx.HTTPError):
        raise
    except Exception as error:
        if failing is None:
            raise
        log.exception("inbound message %s cannot be processed; it ends failed", failing)
        await _fail(
            sessions, failing, reason=f"{type(error).__name__}: the gateway cannot process this message", clock=clock
        )
        return True


async def _fail(sessions: async_sessionmaker[AsyncSession], message_id: str, *, reason: str, clock: Clock) -> None:
    async with sessions() as session, session.begin():
        message = await session.get(InboundMessage, message_id, with_for_update=True)
        if message is None or message.status is not InboundStatus.received:
            return
        now = clock.now()
        message.status = InboundStatus.failed
        message.outcome = {"case_id": None, "error": "cannot_process", "detail": reason}
        message.processed_at = now
        message.last_error = reason[:500]


async def process_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    case_api: CaseApi,
    settings: Settings,
    clock: Clock,
    limit: int = 1000,
) -> int:
    """Every message due now (at most `limit`), one transaction each; the number of attempts made."""
    done = 0
    while done < limit and await process_next(sessions, case_api=case_api, settings=settings, clock=clock):
        done += 1
    return done


async def run_inbound(stop: asyncio.Event) -> None:
    settings = get_settings()
    clock = SystemClock()
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    async with httpx.AsyncClient(base_url=settings.case_api_url, timeout=settings.case_api_timeout_seconds) as http:
        case_api = CaseApi(http, TokenFile(settings.case_api_token_file))
        try:
            while not stop.is_set():
                done = 0
                try:
                    done = await process_due(sessions, case_api=case_api, settings=settings, clock=clock, limit=100)
                except Exception:
                    log.exception("inbound round failed; the messages stay received")
                if not done:
                    await sleep_or_stop(stop, settings.inbound_interval_seconds)
        finally:
            await engine.dispose()


def main() -> None:
    run_worker("partner-gateway inbound", run_inbound, settings=get_settings())


if __name__ == "__main__":
    main()
