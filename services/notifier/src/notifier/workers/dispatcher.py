"""Fires due moments and hands due notifications to their channels: `python -m notifier.workers.dispatcher`.

Both channel modes read the household from case-api at send time (whom and what never depend on the mode).
NOTIFIER_CHANNEL_MODE chooses only where messages go: `local` (the default of `make run`) writes every message as
a file into the outbox folder; `live` sends e-mail over SMTP and SMS through CM.com, drops letters as PDFs in the
print folder and creates caseworker tasks on the case in case-api. Without case-api nobody is known and nothing
is sent.
"""

import asyncio
import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifier.case_api import CaseApi, CaseApiContacts, open_case_api
from notifier.channels.base import Channel
from notifier.channels.caseworker_task import CaseworkerTaskChannel
from notifier.channels.file_outbox import FileOutboxChannel
from notifier.channels.letter import LetterChannel
from notifier.channels.sms_cm import CmSmsChannel
from notifier.channels.smtp import SmtpChannel
from notifier.config import ChannelMode, Settings, get_settings
from notifier.notifications.choice import TASK, QuietHours
from notifier.notifications.lifecycle import Policy
from notifier.notifications.service import Dispatcher
from notifier.templating.context import ContactLookup, NoContacts, Sender
from service_kit.clock import Clock, SystemClock
from service_kit.db import make_engine, make_session_factory
from service_kit.worker import run_worker, sleep_or_stop

log = logging.getLogger(__name__)


def local_channels(settings: Settings) -> dict[str, Channel]:
    sender = Sender.from_settings(settings)
    return {
        name: FileOutboxChannel(name, settings.outbox_dir, sender=sender) for name in ("email", "sms", "letter", TASK)
    }


def live_channels(settings: Settings, case_api: CaseApi) -> dict[str, Channel]:
    sender = Sender.from_settings(settings)
    priority = {m.strip(): "priority" for m in settings.priority_postage_moments.split(",") if m.strip()}
    return {
        "email": SmtpChannel(
            host=settings.smtp_host,
            port=settings.smtp_port,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            sender=settings.smtp_sender,
            timeout=settings.smtp_timeout_seconds,
        ),
        "letter": LetterChannel(
            settings.print_dir, sender=sender, postage_for=priority, default_postage=settings.postage_class
        ),
        "sms": CmSmsChannel.from_settings(settings),
        TASK: CaseworkerTaskChannel(case_api),
    }


def channels_for(settings: Settings, case_api: CaseApi | None) -> dict[str, Channel]:
    if settings.channel_mode is ChannelMode.live:
        if case_api is None:
            raise ValueError("live channel mode needs case-api (NOTIFIER_CASE_API_URL)")
        return live_channels(settings, case_api)
    return local_channels(settings)


def contacts_for(settings: Settings, case_api: CaseApi | None) -> ContactLookup:
    """Every mode reads the household from case-api at send time (a service read that case-api writes in its
    processing log): the local mode changes where messages go, never whom they address or what they say. Without
    case-api the local mode knows nobody and sends nothing (no made-up household)."""
    if case_api is not None:
        return CaseApiContacts(case_api)
    if settings.channel_mode is ChannelMode.live:
        raise ValueError("live channel mode needs case-api (NOTIFIER_CASE_API_URL)")
    return NoContacts()


def quiet_hours_of(settings: Settings) -> QuietHours:
    return QuietHours(ZoneInfo(settings.timezone), settings.quiet_hours_start, settings.quiet_hours_end)


def hand_over_timeout_of(settings: Settings) -> float:
    """The bound of one hand-over: its household read, then at most five waits on its channel (an SMTP relay's
    connect, MAIL, RCPT, DATA and end of data; an SMS is one request), each bounded by the channel's timeout."""
    return settings.case_api_timeout_seconds + 5 * max(settings.smtp_timeout_seconds, settings.sms_timeout_seconds)


def dispatcher_for(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    case_api: CaseApi | None = None,
    channels: dict[str, Channel] | None = None,
    contacts: ContactLookup | None = None,
    clock: Clock | None = None,
) -> Dispatcher:
    if settings.sending_lease_seconds <= hand_over_timeout_of(settings):
        log.warning(
            "NOTIFIER_SENDING_LEASE_SECONDS (%.0f s) is not longer than one hand-over may take (%.0f s): with more "
            "than one dispatcher an e-mail still being handed over may be taken over and sent twice",
            settings.sending_lease_seconds,
            hand_over_timeout_of(settings),
        )
    return Dispatcher(
        sessions=sessions,
        channels=channels if channels is not None else channels_for(settings, case_api),
        contacts=contacts if contacts is not None else contacts_for(settings, case_api),
        sender=Sender.from_settings(settings),
        policy=Policy.from_settings(settings),
        quiet=quiet_hours_of(settings),
        sending_lease=timedelta(seconds=settings.sending_lease_seconds),
        report_window=timedelta(seconds=settings.sms_report_window_seconds),
        batch_size=settings.dispatch_batch_size,
        hand_over_timeout=hand_over_timeout_of(settings),
        clock=clock.now if clock is not None else None,  # sent_at: when the channel took the message
    )


async def dispatch(stop: asyncio.Event, clock: Clock | None = None) -> None:
    settings = get_settings()
    clock = clock or SystemClock()
    engine = make_engine(settings.effective_database_url)
    async with open_case_api(settings) as case_api:
        dispatcher = dispatcher_for(settings, make_session_factory(engine), case_api=case_api, clock=clock)
        try:
            await _loop(stop, dispatcher, clock, settings.dispatch_interval_seconds)
        finally:
            await engine.dispose()


async def _loop(stop: asyncio.Event, dispatcher: Dispatcher, clock: Clock, interval: float) -> None:
    while not stop.is_set():
        try:
            done = await dispatcher.run_once(clock.now())
            busy = done.handed or done.failed
        except Exception:
            log.exception("dispatch round failed; what was due stays due")
            busy = 0
        if not busy:
            await sleep_or_stop(stop, interval)


def main() -> None:
    run_worker("notifier dispatcher", dispatch, settings=get_settings())


if __name__ == "__main__":
    main()
