"""E-mail over an SMTP relay with an async client (STARTTLS and login configurable)."""

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from notifier.channels.base import HandOver, OutgoingMessage


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

    async def send(self, message: OutgoingMessage) -> HandOver:
        if not message.recipient:
            return HandOver(accepted=False, permanent=True, reason="no e-mail address")
        email = email_of(message, sender=self._sender, domain=self._domain)
        try:
            await aiosmtplib.send(
                email,
                hostname=self._host,
                port=self._port,
                start_tls=self._starttls,
                username=self._username or None,
                password=self._password if self._username else None,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            return HandOver(accepted=False, permanent=True, reason=f"recipient refused: {refused.recipients}")
        except (aiosmtplib.SMTPException, OSError) as error:
            # A relay that is down or says 4xx: try again later.
            code = getattr(error, "code", 0) or 0
            return HandOver(accepted=False, permanent=500 <= code < 600, reason=f"{type(error).__name__}: {error}")
        return HandOver(accepted=True, provider_reference=email["Message-ID"])
