"""Data minimisation per partner kind (R3, R16; the table in spec/contract.md).

An allow-list: a field reaches a partner only when named here for its kind and the event type. What is
not named is never sent, so a new field in an event stays inside until someone decides otherwise.
"""

from typing import Any

from eviction_schemas.envelope import CloudEvent
from partner_gateway.partners.models import PartnerKind

ALLOWED_FIELDS: dict[PartnerKind, dict[str, frozenset[str]]] = {
    PartnerKind.housing_corporation: {"case.opened": frozenset({"case_id", "has_minors"})},
    PartnerKind.bailiff: {"case.opened": frozenset({"case_id", "has_minors"})},
    # MEE Noord receives personal referrals only after consent (R9); a bare case.opened tells it nothing.
    PartnerKind.client_support: {},
    PartnerKind.utility: {"case.opened": frozenset({"case_id"})},
}


def event_name(event_type: str) -> str:
    return event_type.removeprefix("nl.eviction-prevention.")


def may_receive(kind: PartnerKind, event_type: str) -> bool:
    return event_name(event_type) in ALLOWED_FIELDS[kind]


def minimise(kind: PartnerKind, event: CloudEvent) -> dict[str, Any]:
    """The webhook body for a partner of `kind`: the envelope's routing facts and only the allowed data."""
    allowed = ALLOWED_FIELDS[kind].get(event_name(event.type), frozenset())
    return {
        "id": str(event.id),
        "type": event.type,
        "time": event.time.isoformat(),
        "subject": event.subject,
        "data": {key: value for key, value in event.data.items() if key in allowed},
    }
