"""The local channel of `make run`: each message becomes a file in the outbox folder (.eml for e-mail)."""

import asyncio
from datetime import date
from email.message import EmailMessage
from pathlib import Path

from notifier.channels.base import HandOver, OutgoingMessage
from notifier.channels.letter import render_letter_pdf
from notifier.templating.context import Sender

SUFFIX = {"email": ".eml", "sms": ".sms.txt", "letter": ".pdf", "caseworker_task": ".task.txt"}


class FileOutboxChannel:
    def __init__(self, name: str, folder: Path, *, sender: Sender | None = None) -> None:
        self.name = name
        self._folder = folder
        self._sender = sender or Sender()

    async def send(self, message: OutgoingMessage) -> HandOver:
        path = self._folder / f"{message.notification_id}{SUFFIX.get(self.name, '.txt')}"
        await asyncio.to_thread(self._write, path, message)
        return HandOver(accepted=True, provider_reference=path.name)

    def _write(self, path: Path, message: OutgoingMessage) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        if self.name in ("email", "sms") and not message.recipient:
            # decide() never picks a channel without the household's address; the outbox invents none either.
            raise ValueError(f"{self.name} {message.notification_id} has no recipient")
        if self.name == "email":
            email = EmailMessage()
            email["Subject"] = message.subject
            email["To"] = message.recipient
            email["X-Notification-Id"] = message.notification_id
            email["X-Moment"] = message.moment
            email["X-Template-Version"] = message.template_version
            email.set_content(message.body)
            email["Content-Language"] = message.language  # set_content clears Content-* headers
            content = email.as_bytes()
        elif self.name == "letter":
            content = render_letter_pdf(message, sender=self._sender, written_on=message.written_on or date.today())
        elif self.name == "sms":
            # As the SMS provider would be told: to whom (the recorded mobile), then the text.
            content = f"To: {message.recipient}\n\n{message.body}\n".encode()
        else:
            content = f"{message.subject}\n\n{message.body}\n".encode()
        # Written under a temporary name and renamed, so a reader never sees half a message and a
        # repeated hand-over of the same notification overwrites the same file rather than adding one.
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(content)
        tmp.replace(path)
