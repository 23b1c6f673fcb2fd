"""Hands requested notifications to their channels: `python -m notifier.workers.dispatcher`.

NOTIFIER_CHANNEL_MODE chooses the channels: `local` (the default of `make run`) writes every message as a file
into the outbox folder; `live` sends e-mail over SMTP and drops letters as PDFs in the print folder. SMS stays a
file channel in both modes until the SMS provider's adapter exists (issue 4, point 3).
"""

import asyncio
import logging

from notifier.channels.base import Channel
from notifier.channels.file_outbox import FileOutboxChannel
from notifier.channels.letter import LetterChannel
from notifier.channels.smtp import SmtpChannel
from notifier.config import ChannelMode, Settings, get_settings
from notifier.notifications.service import dispatch_requested
from notifier.templating.context import ContactLookup, NoContacts, PlaceholderContacts, Sender
from service_kit.clock import SystemClock
from service_kit.db import make_engine, make_session_factory
from service_kit.worker import run_worker, sleep_or_stop

log = logging.getLogger(__name__)


def local_channels(settings: Settings) -> dict[str, Channel]:
    sender = Sender.from_settings(settings)
    return {name: FileOutboxChannel(name, settings.outbox_dir, sender=sender) for name in ("email", "sms", "letter")}


def live_channels(settings: Settings) -> dict[str, Channel]:
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
        # No SMS provider adapter yet: live SMS are files in the outbox, for a person to see, not to send.
        "sms": FileOutboxChannel("sms", settings.outbox_dir, sender=sender),
    }


def channels_for(settings: Settings) -> dict[str, Channel]:
    return live_channels(settings) if settings.channel_mode is ChannelMode.live else local_channels(settings)


def contacts_for(settings: Settings) -> ContactLookup:
    """Local mode renders for the made-up household. Live mode has no case-api lookup yet (the next step of
    issue 4: read the household from case-api at send time with a service token, logged as processing), so it
    knows nobody and sends nothing: notifications stay requested and a warning is logged."""
    if settings.channel_mode is ChannelMode.live:
        log.warning("live channel mode without a case-api contact lookup: notifications stay requested")
        return NoContacts()
    return PlaceholderContacts()


async def dispatch(stop: asyncio.Event) -> None:
    settings = get_settings()
    clock = SystemClock()
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    channels = channels_for(settings)
    contacts = contacts_for(settings)
    sender = Sender.from_settings(settings)
    try:
        while not stop.is_set():
            try:
                async with sessions() as session, session.begin():
                    handed = await dispatch_requested(
                        session, channels=channels, clock=clock, contacts=contacts, sender=sender
                    )
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
