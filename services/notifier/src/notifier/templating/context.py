"""What a template is rendered with: who sends (settings), the household (case-api) and the case's facts.

The notifier never takes names or addresses from events: in every channel mode the dispatcher reads the
household from case-api at send time (notifier.case_api.CaseApiContacts, a service read case-api writes in its
processing log). Without case-api nobody is known (NoContacts) and nothing is sent: no household is ever made up.
The preview endpoint renders a template for a case's recorded household, or with marked placeholders
(templating/service.py).
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
    storage_reference: str | None = None  # under which the storage place keeps the goods (R14)
    retention_end: date | None = None
    housing_address: str | None = None
    objection_end: date | None = None
    offer_oco: bool = True
    # Facts of the event the message is about that templates may branch on, e.g. {"granted": True} for M9.
    extra: dict[str, object] = field(default_factory=dict)


class ContactLookup(Protocol):
    """Where the dispatcher gets the household of a case at send time; None when it cannot know it."""

    async def household(self, case_id: str) -> Household | None: ...


class NoContacts:
    """Without case-api: nobody is known, so nothing is sent (and nothing is faked)."""

    async def household(self, case_id: str) -> Household | None:
        return None
