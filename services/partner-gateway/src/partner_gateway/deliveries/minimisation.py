"""Data minimisation per partner kind (R3, R9, R16; the table in spec/contract.md, "Partner messages").

One explicit table: for each partner kind, the case events it may receive and, for each, exactly the fields of
the webhook's `data` and where each comes from. It is an allow-list: a field that is not named here is never
sent, so a new field in an event stays inside until someone adds it here; an event type that is not named for
a kind is not deliverable to that kind at all (a subscription asking for it is refused with 422 naming
`event_types`, and fan-out skips it for a subscription stored some other way).

Some fields are derived rather than copied, because the contract allows the answer but not the event's value:
a corporation or utility learns *whether* a case was picked up, never the outcome code that says why not (R3);
a corporation learns whether a payment or debt arrangement is part of the support, never the other kinds of
support (budget management, protective administration: financial guidance is not its business). Some come from
the case's current facts (deliveries/facts.py) rather than from the one event: whether the household is still
in support after one support ended. Some rows are sent only when their fact changed for that kind, or only to
the kinds a request was addressed to (`Allowed.when`).

A partner that sees its own cases only (corporation, bailiff, utility) receives a case's events once its first
message about the case linked it (reference_map), and at that moment one `case.snapshot`: the case's current
facts that its kind may see (SNAPSHOT), restricted to the event types the subscription asked for (ADR 0011).

MEE Noord (client support) receives one thing: a referral, when the household accepted OCO with a recorded
consent (oco.accepted, R9). The event carries no personal data; the delivery worker reads the referral's
details from case-api when it sends (`referral_body`) and keeps none of them, and the fields it may pass on are
the ones of REFERRAL_FIELDS.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eviction_schemas.envelope import CloudEvent
from partner_gateway.deliveries.facts import (
    ARRANGEMENTS,
    EVENT_TYPE_PREFIX,
    NOT_PICKED_UP,
    Facts,
    apply,
    arrangement_of,
    picked_up_of,
)
from partner_gateway.partners.models import PartnerKind

__all__ = [
    "ALLOWED_FIELDS",
    "ARRANGEMENTS",
    "CONTACT_PERSON_FIELDS",
    "MINIMISATION",
    "NOT_PICKED_UP",
    "REFERRAL_FIELDS",
    "REFERRAL_TYPE",
    "SNAPSHOT",
    "SNAPSHOT_TYPE",
    "Allowed",
    "Seen",
    "allowed",
    "event_name",
    "is_referral",
    "may_receive",
    "minimise",
    "needs_contact_person",
    "referral_body",
    "sends",
    "snapshot",
    "with_contact_person",
]

# What MEE Noord receives: a message type of the gateway, not a case event of the catalogue.
REFERRAL_TYPE = f"{EVENT_TYPE_PREFIX}oco.referral"
# What a corporation, bailiff or utility receives once, when its first message links it to a case.
SNAPSHOT_TYPE = f"{EVENT_TYPE_PREFIX}case.snapshot"


@dataclass(frozen=True)
class Seen:
    """One event as the consumer sees it: its data, and the case's facts before and after it."""

    data: Mapping[str, Any]
    before: Facts
    after: Facts


FieldSource = Callable[[Seen], Any]


def copied(name: str) -> FieldSource:
    """The event's own field, as it is."""

    def source(seen: Seen) -> Any:
        return seen.data[name]

    source.__doc__ = f"= {name}"
    return source


def picked_up(seen: Seen) -> bool:
    """From case.closed's outcome: whether the case was picked up; never which outcome, so never why not (R3)."""
    return picked_up_of(seen.data["outcome"])


def arrangement(seen: Seen) -> str | None:
    """From a support event's kind: payment_arrangement or debt_arrangement; null for any other kind of support."""
    return arrangement_of(seen.data["kind"])


def in_support(seen: Seen) -> bool:
    """After the event: whether any support of the household is still open."""
    return seen.after.in_support


def active_arrangements(seen: Seen) -> list[str]:
    """After the event: the payment and debt arrangements among the open supports (never the other kinds)."""
    return seen.after.active_arrangements


def minors_changed(seen: Seen) -> bool:
    return seen.before.has_minors != seen.after.has_minors


def addressed_to(kind: PartnerKind) -> Callable[[Seen], bool]:
    def when(seen: Seen) -> bool:
        return kind.value in seen.data["recipients"]

    when.__doc__ = f"only when the request is addressed to a {kind.value}"
    return when


@dataclass(frozen=True)
class Allowed:
    """What one partner kind receives of one event type: each field of the webhook's `data` and its source."""

    fields: Mapping[str, FieldSource]
    # The delivery is a referral: its body is read from case-api when it is sent (referral_body), not stored.
    referral: bool = False
    # Sent only when this holds (a fact of the kind changed, the request is addressed to the kind).
    when: Callable[[Seen], bool] | None = None

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.fields)


def contact_person(seen: Seen) -> dict[str, str]:
    """Only the contact person's kind is stored; the delivery worker reads who it is, with work contact details,
    from case-api when it sends (`with_contact_person`)."""
    return {"kind": seen.data["contact_kind"]}


# THE TABLE. Keys are event names of the catalogue (schemas/.../json/events); what is not here is not sent.
MINIMISATION: dict[PartnerKind, dict[str, Allowed]] = {
    # Its own tenants only (reference_map): case picked up yes/no, household in support yes/no, payment or debt
    # arrangement active, request to postpone or to offer a second-chance agreement, household with minors yes/no
    # (R10).
    PartnerKind.housing_corporation: {
        "case.opened": Allowed({"case_id": copied("case_id"), "has_minors": copied("has_minors")}),
        "household.updated": Allowed({"has_minors": copied("has_minors")}, when=minors_changed),
        "case.closed": Allowed({"picked_up": picked_up}),
        "support.started": Allowed(
            {"in_support": in_support, "arrangement": arrangement, "active_arrangements": active_arrangements}
        ),
        "support.ended": Allowed(
            {"in_support": in_support, "arrangement": arrangement, "active_arrangements": active_arrangements}
        ),
        # Never the grounds category: why the municipality asks is the bailiff's planning fact, not the landlord's.
        "postponement.requested": Allowed(
            {
                "request_id": copied("request_id"),
                "eviction_date": copied("eviction_date"),
                "requested_on": copied("requested_on"),
            },
            when=addressed_to(PartnerKind.housing_corporation),
        ),
        "second-chance.requested": Allowed(
            {"request_id": copied("request_id"), "requested_on": copied("requested_on")}
        ),
    },
    # Cases it acts in (reference_map): request to postpone with grounds category, contact person, children present
    # yes/no for planning.
    PartnerKind.bailiff: {
        "case.opened": Allowed({"case_id": copied("case_id"), "children_present": copied("has_minors")}),
        "household.updated": Allowed({"children_present": copied("has_minors")}, when=minors_changed),
        "postponement.requested": Allowed(
            {
                "request_id": copied("request_id"),
                "eviction_date": copied("eviction_date"),
                "requested_on": copied("requested_on"),
                "grounds_category": copied("grounds_category"),
            },
            when=addressed_to(PartnerKind.bailiff),
        ),
        "contact-person.assigned": Allowed({"contact_person": contact_person}),
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


@dataclass(frozen=True)
class Current:
    """One field of a kind's snapshot: its value from the case's facts, and the event types that carry it (a
    subscription gets the field when it asked for one of them)."""

    source: Callable[[Facts], Any]
    events: frozenset[str]


def open_request_to_postpone(kind: PartnerKind, *fields: str) -> Callable[[Facts], Any]:
    """The open request to postpone, as `kind` sees it: only when it was addressed to `kind`."""

    def source(facts: Facts) -> Any:
        request = facts.postponement_request
        if request is None or kind.value not in request["recipients"]:
            return None
        return {name: request[name] for name in fields}

    return source


def assigned_contact_person(facts: Facts) -> dict[str, str] | None:
    return {"kind": facts.contact_person_kind} if facts.contact_person_kind else None


MINORS_EVENTS = frozenset({"case.opened", "household.updated"})
SUPPORT_EVENTS = frozenset({"support.started", "support.ended"})
REQUEST_FIELDS = ("request_id", "eviction_date", "requested_on")

# What a partner linked to a case later than the case's events learns of them: the case as it is now.
SNAPSHOT: dict[PartnerKind, dict[str, Current]] = {
    PartnerKind.housing_corporation: {
        "has_minors": Current(lambda facts: facts.has_minors, MINORS_EVENTS),
        "in_support": Current(lambda facts: facts.in_support, SUPPORT_EVENTS),
        "active_arrangements": Current(lambda facts: facts.active_arrangements, SUPPORT_EVENTS),
        "picked_up": Current(lambda facts: facts.picked_up, frozenset({"case.closed"})),
        "postponement_request": Current(
            open_request_to_postpone(PartnerKind.housing_corporation, *REQUEST_FIELDS),
            frozenset({"postponement.requested"}),
        ),
        "second_chance_request": Current(
            lambda facts: dict(facts.second_chance_request) if facts.second_chance_request else None,
            frozenset({"second-chance.requested"}),
        ),
    },
    PartnerKind.bailiff: {
        "children_present": Current(lambda facts: facts.has_minors, MINORS_EVENTS),
        "postponement_request": Current(
            open_request_to_postpone(PartnerKind.bailiff, *REQUEST_FIELDS, "grounds_category"),
            frozenset({"postponement.requested"}),
        ),
        "contact_person": Current(assigned_contact_person, frozenset({"contact-person.assigned"})),
    },
    PartnerKind.client_support: {},  # referrals only, each on its own consent
    PartnerKind.utility: {
        "picked_up": Current(lambda facts: facts.picked_up, frozenset({"case.closed"})),
    },
}

# The contact person a bailiff receives: the fields of case-api's answer (GET /v1/cases/{id}/contact-person) that
# are passed on, read when the webhook is sent; anything else in the answer is dropped.
CONTACT_PERSON_FIELDS = ("kind", "name", "work_email", "work_phone")

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


def seen(event: CloudEvent, before: Facts | None = None) -> Seen:
    """`event` with the case's facts before it (none known: a case whose first event this is) and after it."""
    before = before or Facts()
    return Seen(event.data, before, apply(before, event))


def sends(kind: PartnerKind, event: CloudEvent, before: Facts | None = None) -> bool:
    """Whether a partner of `kind` is sent this event at all: the table names it, and its condition holds."""
    rule = allowed(kind, event.type)
    return rule is not None and (rule.when is None or rule.when(seen(event, before)))


def minimise(kind: PartnerKind, event: CloudEvent, before: Facts | None = None) -> dict[str, Any]:
    """The webhook body for a partner of `kind`: the envelope's routing facts and only the table's fields (none
    when the kind may not receive the event). `before` is the case's facts before the event. For a referral, its
    type and the consent's id; the personal details are read when it is sent."""
    rule = allowed(kind, event.type)
    fields = rule.fields if rule else {}
    view = seen(event, before)
    return {
        "id": str(event.id),
        "type": REFERRAL_TYPE if rule and rule.referral else event.type,
        "time": event.time.isoformat(),
        "subject": event.subject,
        "data": {name: source(view) for name, source in fields.items()},
    }


def snapshot(
    kind: PartnerKind, facts: Facts, *, event_types: Iterable[str], case_id: str, snapshot_id: str, at: datetime
) -> dict[str, Any] | None:
    """The case.snapshot a partner of `kind` gets when its first message links it to the case: the facts of the
    event types it subscribed to, as they are now. None when the subscription asked for none of them or none of
    them is known yet."""
    wanted = set(event_types)
    fields = {name: current for name, current in SNAPSHOT[kind].items() if current.events & wanted}
    values = {name: current.source(facts) for name, current in fields.items()}
    if all(value is None for value in values.values()):
        return None
    return {
        "id": snapshot_id,
        "type": SNAPSHOT_TYPE,
        "time": at.isoformat(),
        "subject": case_id,
        "data": {"case_id": case_id, **values},
    }


def needs_contact_person(body: Mapping[str, Any]) -> bool:
    """Whether a stored body holds a contact person to be read when it is sent (only its kind is stored)."""
    data = body.get("data")
    return isinstance(data, Mapping) and isinstance(data.get("contact_person"), Mapping)


def with_contact_person(stored: Mapping[str, Any], answer: Mapping[str, Any] | None) -> dict[str, Any]:
    """The body a bailiff receives: the stored body with case-api's contact person (CONTACT_PERSON_FIELDS only),
    or null when case-api has none (any more)."""
    person = None if answer is None else {name: answer.get(name) for name in CONTACT_PERSON_FIELDS}
    return {**stored, "data": {**stored["data"], "contact_person": person}}


def referral_body(stored: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """The referral MEE Noord receives: the stored body (no personal data) with case-api's answer as its data,
    kept to REFERRAL_FIELDS, and the referral's `reference` (its consent's id) that MEE Noord's messages about it
    carry as their `reference`."""
    return {**stored, "data": {"reference": stored["data"]["consent_id"], **pick(answer, REFERRAL_FIELDS)}}


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
