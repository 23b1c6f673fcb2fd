"""What a template is rendered with: who sends (settings), the household (case-api) and the case's facts.

The notifier never takes names or addresses from events. Until it can ask case-api for them at send time, the
only household it knows is the made-up one below: used by the preview endpoint and by the local channel mode of
`make run`. The next step of issue 4 is a `ContactLookup` that reads the household from case-api at send time with
a service token and writes a processing-log entry for that read; until then live mode refuses to send.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from notifier.config import Settings


@dataclass(frozen=True)
class Sender:
    """Who sends: every message names the municipality and gives this one phone number."""

    name: str = "Gemeente Proefdam"
    phone: str = "14 0511"

    @classmethod
    def from_settings(cls, settings: Settings) -> "Sender":
        return cls(name=settings.municipality_name, phone=settings.municipality_phone)


@dataclass(frozen=True)
class Household:
    """The household's contact details and the facts of its case that a message may name, as case-api gives them
    at send time (GET /v1/cases/{case_id}/notification-contact)."""

    first_name: str
    full_name: str
    # The home address (street and number, postcode and city); () when unknown or after the eviction.
    address_lines: tuple[str, ...]
    email: str | None
    mobile: str | None
    # A separate mail address (postadres), if recorded: where letters go after an eviction.
    mail_address_lines: tuple[str, ...] = ()
    preferred_channel: str | None = None  # email | sms | letter | phone
    language: str = "nl"
    evicted: bool = False
    team: str | None = None
    eviction_date: date | None = None
    storage_place: str | None = None
    retention_end: date | None = None
    housing_address: str | None = None
    objection_end: date | None = None
    offer_oco: bool = True
    # Facts of the event the message is about that templates may branch on, e.g. {"granted": True} for M9.
    extra: dict[str, object] = field(default_factory=dict)


class ContactLookup(Protocol):
    """Where the dispatcher gets the household of a case at send time; None when it cannot know it."""

    async def household(self, case_id: str) -> Household | None: ...


# A made-up household (the README's Jelle Testhuis): never a real person, never used in live mode.
PLACEHOLDER_HOUSEHOLD = Household(
    first_name="Jelle",
    full_name="Jelle Testhuis",
    address_lines=("Proefstraat 1", "8911 AB Proefdam"),
    email="jelle.testhuis@example.invalid",
    mobile="+31 6 00000000",
    eviction_date=date(2026, 4, 14),
    storage_place="Opslag Proefdam, Magazijnweg 7, Proefdam",
    retention_end=date(2026, 7, 14),
    housing_address="Wachtstraat 3, Proefdam",
    objection_end=date(2026, 5, 26),
    extra={"granted": True},
)


class PlaceholderContacts:
    """The local mode's and the preview's lookup: every case belongs to the made-up household."""

    async def household(self, case_id: str) -> Household | None:
        return PLACEHOLDER_HOUSEHOLD


class NoContacts:
    """Live mode until case-api is asked: nobody is known, so nothing is sent (and nothing is faked)."""

    async def household(self, case_id: str) -> Household | None:
        return None
