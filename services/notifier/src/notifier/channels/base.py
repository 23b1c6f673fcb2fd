"""The small interface every channel implements: one class per integration (SMTP, SMS, printer, files)."""

from collections.abc import Awaitable, Callable
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
    # A caseworker task: home_visit or call.
    task_kind: str | None = None


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


class CommitPointChannel(Channel, Protocol):
    """A channel whose hand-over has a last step that makes it final (SMTP's end of data). It calls
    `commit_point` right before that step, so the dispatcher records the message as sent first: a process
    stopped in between leaves a message recorded as sent that the relay discarded, never one sent twice."""

    async def send_with_commit_point(
        self, message: OutgoingMessage, commit_point: Callable[[], Awaitable[None]]
    ) -> HandOver: ...
