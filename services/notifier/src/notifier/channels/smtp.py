"""E-mail over an SMTP relay with an async client (STARTTLS and login configurable).

The relay takes responsibility for a message when it answers the end of the data (the line with one dot).
`send_with_commit_point` writes the whole message, lets the dispatcher record it as sent, and only then writes
that dot: a dispatcher killed before the dot leaves a half transfer the relay discards (RFC 5321 4.1.1.4: no
delivery without the end of data) and a notification still `sending` that is handed over again; one killed after
it has already recorded the send. So a stop never causes a second e-mail (docs/adr/0009).
"""

import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from aiosmtplib.typing import SMTPStatus

from notifier.channels.base import HandOver, OutgoingMessage

log = logging.getLogger(__name__)

END_OF_DATA = b".\r\n"


def message_id(notification_id: str, domain: str) -> str:
    """The same notification always gets the same Message-ID, so a duplicate is recognisable downstream."""
    return f"<{notification_id}@{domain}>"


def email_of(message: OutgoingMessage, *, sender: str, domain: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient or ""
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message_id(message.notification_id, domain)
    email["X-Notification-Id"] = message.notification_id
    email["X-Moment"] = message.moment
    email["X-Template-Version"] = message.template_version
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.body)
    email["Content-Language"] = message.language  # after set_content, which clears Content-* headers
    return email


class SmtpChannel:
    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        starttls: bool,
        username: str,
        password: str,
        sender: str,
        timeout: float = 30.0,
    ) -> None:
        self._host, self._port, self._starttls = host, port, starttls
        self._username, self._password = username, password
        self._sender = sender
        self._timeout = timeout
        self._domain = sender.rpartition("@")[2].rstrip(">") or "notifier.invalid"

    @property
    def timeout_seconds(self) -> float:
        """How long the channel waits for the relay at each step (connect, each answer)."""
        return self._timeout

    async def send(self, message: OutgoingMessage) -> HandOver:
        async def nothing() -> None:
            return None

        return await self.send_with_commit_point(message, nothing)

    async def send_with_commit_point(
        self, message: OutgoingMessage, commit_point: Callable[[], Awaitable[None]]
    ) -> HandOver:
        if not message.recipient:
            return HandOver(accepted=False, permanent=True, reason="no_address")
        email = email_of(message, sender=self._sender, domain=self._domain)

        async def recorded_then_end_of_data() -> None:
            await commit_point()
            log.debug("notification %s recorded as sent: writing its end of data", message.notification_id)

        client = aiosmtplib.SMTP(hostname=self._host, port=self._port, start_tls=self._starttls, timeout=self._timeout)
        try:
            await client.connect()
            if self._username:
                await client.login(self._username, self._password)
            await client.mail(parseaddr(self._sender)[1] or self._sender)
            await client.rcpt(message.recipient)
            await _data_with_commit_point(client, email.as_bytes(), recorded_then_end_of_data, self._timeout)
            log.debug("the relay took notification %s", message.notification_id)
        except aiosmtplib.SMTPRecipientRefused as refused:
            return HandOver(accepted=False, permanent=True, reason=f"recipient_refused_{refused.code}")
        except (aiosmtplib.SMTPException, OSError) as error:
            # A relay that is down or says 4xx: try again later; 5xx: it will not take this message.
            code = getattr(error, "code", 0) or 0
            return HandOver(accepted=False, permanent=500 <= code < 600, reason=f"smtp_{code or type(error).__name__}")
        finally:
            client.close()
        return HandOver(accepted=True, provider_reference=email["Message-ID"])


async def _data_with_commit_point(
    client: aiosmtplib.SMTP, message: bytes, commit_point: Callable[[], Awaitable[None]], seconds: float
) -> None:
    """DATA as aiosmtplib's protocol does it (line endings, dot-stuffing), with `commit_point` awaited after the
    content is written and before the end of data that makes the relay take the message."""
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    content = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message))
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    start = await client.execute_command(b"DATA")
    if start.code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol.write(content)
    await commit_point()
    protocol._response_pending = True  # what aiosmtplib's own DATA sets before it writes a command
    protocol.write(END_OF_DATA)
    response = await protocol.read_response(timeout=seconds)
    if response.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
