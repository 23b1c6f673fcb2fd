"""The delivery worker: sends due deliveries, signed. `python -m partner_gateway.workers.delivery`.

A referral to MEE Noord is read from case-api (GATEWAY_CASE_API_URL, with the service token of
GATEWAY_CASE_API_TOKEN_FILE) when it is sent, so its personal details are never stored in the gateway.
"""

import asyncio
import logging

import httpx

from partner_gateway.config import get_settings
from partner_gateway.deliveries.service import deliver, due_deliveries
from partner_gateway.inbound.case_api import CaseApi, TokenFile
from service_kit.clock import SystemClock
from service_kit.db import make_engine, make_session_factory
from service_kit.worker import run_worker, sleep_or_stop

log = logging.getLogger(__name__)


async def run_deliveries(stop: asyncio.Event) -> None:
    settings = get_settings()
    clock = SystemClock()
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    async with (
        httpx.AsyncClient(timeout=settings.delivery_timeout_seconds) as http,
        httpx.AsyncClient(base_url=settings.case_api_url, timeout=settings.case_api_timeout_seconds) as case_api_http,
    ):
        case_api = CaseApi(case_api_http, TokenFile(settings.case_api_token_file))
        try:
            while not stop.is_set():
                sent = 0
                try:
                    async with sessions() as session, session.begin():
                        for delivery in await due_deliveries(session, now=clock.now(), limit=100):
                            sent += await deliver(
                                session, delivery=delivery, http=http, clock=clock, settings=settings, case_api=case_api
                            )
                except Exception:
                    log.exception("delivery round failed; deliveries stay pending")
                if not sent:
                    await sleep_or_stop(stop, settings.delivery_interval_seconds)
        finally:
            await engine.dispose()


def main() -> None:
    run_worker("partner-gateway delivery", run_deliveries, settings=get_settings())


if __name__ == "__main__":
    main()
