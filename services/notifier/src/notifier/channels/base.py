"""The small interface every channel implements: one class per integration (SMTP, SMS, printer, files)."""

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: str
    case_id: str
    moment: str
    channel: str
    language: str
    subject: str
    body: str
    recipient: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    template_version: str = ""
    reference: str = ""
    # A letter's address block: the reader's name, then the address lines.
    postal_address: tuple[str, ...] = ()
    written_on: date | None = None


@dataclass(frozen=True)
class HandOver:
    """What a channel says after taking a message: accepted (with the provider's reference) or not."""

    accepted: bool
    provider_reference: str | None = None
    permanent: bool = False
    reason: str | None = None


class Channel(Protocol):
    name: str

    async def send(self, message: OutgoingMessage) -> HandOver: ...
