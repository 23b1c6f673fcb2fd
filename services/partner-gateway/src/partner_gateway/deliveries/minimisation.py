"""Data minimisation per partner kind (R3, R9, R16; the table in spec/contract.md, "Partner messages").

One explicit table: for each partner kind, the case events it may receive and, for each, exactly the fields of
the webhook's `data` and where each comes from. It is an allow-list: a field that is not named here is never
sent, so a new field in an event stays inside until someone adds it here; an event type that is not named for
a kind is not deliverable to that kind at all (a subscription asking for it is refused with 422 naming
`event_types`, and fan-out skips it for a subscription stored some other way).

Some fields are derived rather than copied, because the contract allows the answer but not the event's value:
a corporation or utility learns *whether* a case was picked up, never the outcome code that says why not (R3);
a corporation learns whether a payment or debt arrangement is part of the support, never the other kinds of
support (budget management, protective administration: financial guidance is not its business).

MEE Noord (client support) receives one thing: a referral, when the household accepted OCO with a recorded
consent (oco.accepted, R9). The event carries no personal data; the delivery worker reads the referral's
details from case-api when it sends (`referral_body`) and keeps none of them, and the fields it may pass on are
the ones of REFERRAL_FIELDS.

What the contract lists and no case event carries yet (so nobody receives it): a request to postpone (with the
grounds category for a bailiff), a request to offer a second-chance agreement, a bailiff's contact person.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eviction_schemas.envelope import CloudEvent
from partner_gateway.partners.models import PartnerKind

EVENT_TYPE_PREFIX = "nl.eviction-prevention."
# What MEE Noord receives: a message type of the gateway, not a case event of the catalogue.
REFERRAL_TYPE = f"{EVENT_TYPE_PREFIX}oco.referral"

FieldSource = Callable[[Mapping[str, Any]], Any]

# case.closed outcome codes that say the signal was not picked up (the national vroegsignalering vocabulary).
NOT_PICKED_UP = frozenset(
    {"not_picked_up_repeat_signal", "not_picked_up_unjustified_signal", "not_picked_up_other_reason"}
)
# Support kinds a corporation may learn of (contract.md: "payment or debt arrangement active").
ARRANGEMENTS = frozenset({"payment_arrangement", "debt_arrangement"})


def copied(name: str) -> FieldSource:
    """The event's own field, as it is."""

    def source(data: Mapping[str, Any]) -> Any:
        return data[name]

    source.__doc__ = f"= {name}"
    return source


def picked_up(data: Mapping[str, Any]) -> bool:
    """From case.closed's outcome: whether the case was picked up; never which outcome, so never why not (R3)."""
    return data["outcome"] not in NOT_PICKED_UP


def arrangement(data: Mapping[str, Any]) -> str | None:
    """From a support event's kind: payment_arrangement or debt_arrangement; null for any other kind of support."""
    kind = data["kind"]
    return kind if kind in ARRANGEMENTS else None


def constant(value: Any) -> FieldSource:
    def source(data: Mapping[str, Any]) -> Any:
        return value

    source.__doc__ = f"always {value!r}"
    return source


@dataclass(frozen=True)
class Allowed:
    """What one partner kind receives of one event type: each field of the webhook's `data` and its source."""

    fields: Mapping[str, FieldSource]
    # The delivery is a referral: its body is read from case-api when it is sent (referral_body), not stored.
    referral: bool = False

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.fields)


# THE TABLE. Keys are event names of the catalogue (schemas/.../json/events); what is not here is not sent.
MINIMISATION: dict[PartnerKind, dict[str, Allowed]] = {
    # Its own tenants only (reference_map): case picked up yes/no, household in support yes/no, payment or debt
    # arrangement active, household with minors yes/no (R10).
    PartnerKind.housing_corporation: {
        "case.opened": Allowed({"case_id": copied("case_id"), "has_minors": copied("has_minors")}),
        "case.closed": Allowed({"picked_up": picked_up}),
        "support.started": Allowed({"in_support": constant(True), "arrangement": arrangement}),
        "support.ended": Allowed({"arrangement": arrangement}),
    },
    # Cases it acts in (reference_map): children present yes/no for planning.
    PartnerKind.bailiff: {
        "case.opened": Allowed({"case_id": copied("case_id"), "has_minors": copied("has_minors")}),
    },
    # MEE Noord: a referral with recorded consent (R9), nothing else; the consent's id is all that is stored.
    PartnerKind.client_support: {
        "oco.accepted": Allowed({"consent_id": copied("consent_id")}, referral=True),
    },
    # Its own signals only (reference_map): picked up yes/no, nothing else.
    PartnerKind.utility: {
        "case.closed": Allowed({"picked_up": picked_up}),
    },
}

# A referral to MEE Noord: the fields of case-api's answer (GET /v1/cases/{id}/oco-referral) that may be passed on,
# nested as case-api gives them; None marks a plain value. Anything else in the answer is dropped.
REFERRAL_FIELDS: dict[str, Any] = {
    "consent": {"id": None, "given_at": None, "method": None, "purpose": None},
    "names": [{"role": None, "initials": None, "given_name": None, "surname_prefix": None, "surname": None}],
    "contact": {
        "address": {"street": None, "house_number": None, "house_number_suffix": None, "postcode": None, "city": None},
        "mail_address": None,
        "email": None,
        "mobile": None,
        "preferred_channel": None,
    },
    "language": None,
    "household": {"adults": None, "minors": None},
    "eviction_date": None,
}

ALLOWED_FIELDS: dict[PartnerKind, dict[str, frozenset[str]]] = {
    kind: {name: allowed.names for name, allowed in events.items()} for kind, events in MINIMISATION.items()
}


def event_name(event_type: str) -> str:
    return event_type.removeprefix(EVENT_TYPE_PREFIX)


def allowed(kind: PartnerKind, event_type: str) -> Allowed | None:
    return MINIMISATION[kind].get(event_name(event_type))


def may_receive(kind: PartnerKind, event_type: str) -> bool:
    return allowed(kind, event_type) is not None


def is_referral(kind: PartnerKind, event_type: str) -> bool:
    rule = allowed(kind, event_type)
    return rule is not None and rule.referral


def minimise(kind: PartnerKind, event: CloudEvent) -> dict[str, Any]:
    """The webhook body for a partner of `kind`: the envelope's routing facts and only the table's fields (none
    when the kind may not receive the event). For a referral, its type and the consent's id; the personal
    details are read when it is sent."""
    rule = allowed(kind, event.type)
    fields = rule.fields if rule else {}
    return {
        "id": str(event.id),
        "type": REFERRAL_TYPE if rule and rule.referral else event.type,
        "time": event.time.isoformat(),
        "subject": event.subject,
        "data": {name: source(event.data) for name, source in fields.items()},
    }


def referral_body(stored: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """The referral MEE Noord receives: the stored body (no personal data) with case-api's answer as its data,
    kept to REFERRAL_FIELDS."""
    return {**stored, "data": pick(answer, REFERRAL_FIELDS)}


def pick(value: Any, shape: Any) -> Any:
    """`value` kept to `shape`: dicts to the shape's keys, lists element by element, None to a plain value (a
    nested structure where a plain value belongs is dropped)."""
    if shape is None:
        return value if value is None or isinstance(value, str | int | float | bool) else None
    if isinstance(shape, dict):
        if not isinstance(value, Mapping):
            return None
        return {key: pick(value[key], inner) for key, inner in shape.items() if key in value}
    if isinstance(shape, list):
        if not isinstance(value, list):
            return []
        return [pick(item, shape[0]) for item in value]
    raise TypeError(f"not a shape: {shape!r}")
