"""The local channel of `make run`: each message becomes a file in the outbox folder (.eml for e-mail)."""

import asyncio
from email.message import EmailMessage
from pathlib import Path

from notifier.channels.base import HandOver, OutgoingMessage

SUFFIX = {"email": ".eml", "sms": ".sms.txt", "letter": ".letter.txt", "caseworker_task": ".task.txt"}


class FileOutboxChannel:
    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self._folder = folder

    async def send(self, message: OutgoingMessage) -> HandOver:
        path = self._folder / f"{message.notification_id}{SUFFIX.get(self.name, '.txt')}"
        await asyncio.to_thread(self._write, path, message)
        return HandOver(accepted=True, provider_reference=path.name)

    def _write(self, path: Path, message: OutgoingMessage) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        if self.name == "email":
            email = EmailMessage()
            email["Subject"] = message.subject
            email["To"] = message.recipient or "household@example.invalid"
            email["X-Notification-Id"] = message.notification_id
            email["X-Moment"] = message.moment
            email.set_content(message.body)
            content = email.as_bytes()
        else:
            content = f"{message.subject}\n\n{message.body}\n".encode()
        # Written under a temporary name and renamed, so a reader never sees half a message and a
        # repeated hand-over of the same notification overwrites the same file rather than adding one.
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(content)
        tmp.replace(path)
