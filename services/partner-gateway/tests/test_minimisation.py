"""Data minimisation per partner kind (R3, R9, R16; the table in spec/contract.md), over the golden sample events
of the catalogue (schemas/.../samples): for each kind, which event types it may receive, which fields it gets
and which it never gets; and that no payload for any kind ever holds a BSN, a name, an amount or an address."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from eviction_schemas.envelope import CloudEvent
from eviction_schemas.registry import iter_samples, load_sample, validate_cloud_event
from partner_gateway.deliveries.facts import Facts, apply
from partner_gateway.deliveries.minimisation import (
    ALLOWED_FIELDS,
    REFERRAL_TYPE,
    may_receive,
    minimise,
    referral_body,
)
from partner_gateway.partners.models import PartnerKind

PREFIX = "nl.eviction-prevention."

# Written out from the contract's table, not derived from the code under test.
EXPECTED: dict[PartnerKind, dict[str, set[str]]] = {
    # "case picked up yes/no, household in support yes/no, payment or debt arrangement active, household with
    # minors yes/no (to weigh R10)"
    PartnerKind.housing_corporation: {
        "case.opened": {"case_id", "has_minors"},
        "case.closed": {"picked_up"},
        "support.started": {"in_support", "arrangement", "active_arrangements"},
        "support.ended": {"in_support", "arrangement", "active_arrangements"},
    },
    # "children present yes/no for planning"
    PartnerKind.bailiff: {"case.opened": {"case_id", "children_present"}},
    # "referrals with recorded consent": the consent's id; the details are read from case-api when sent.
    PartnerKind.client_support: {"oco.accepted": {"consent_id"}},
    # "picked up yes/no for their own signals, nothing else"
    PartnerKind.utility: {"case.closed": {"picked_up"}},
}

# Field names that would hold a BSN, a name, an amount, an address or another way to reach a person.
PERSONAL_FIELDS = {
    "bsn",
    "bsn_token",
    "name",
    "initials",
    "given_name",
    "surname_prefix",
    "surname",
    "amount",
    "arrears_amount",
    "debt",
    "income",
    "address",
    "street",
    "house_number",
    "house_number_suffix",
    "postcode",
    "city",
    "mail_address",
    "email",
    "mobile",
    "phone",
    "household_id",
}
PERSONAL_VALUES = {
    "bsn": "111222333",
    "surname": "Testhuis",
    "given_name": "Jelle",
    "arrears_amount": "1234.56",
    "street": "Proefstraat",
    "postcode": "8911 AB",
    "email": "jelle.testhuis@example.invalid",
}


def read(envelope: dict[str, Any]) -> CloudEvent:
    """As a consumer reads it off the topic."""
    return CloudEvent.from_json_bytes(json.dumps(envelope))


def sample(name: str, **data: Any) -> CloudEvent:
    """The golden sample of `name`, with `data` changed (and still valid against its schema)."""
    envelope = load_sample(name)
    envelope["data"] |= data
    event = read(envelope)
    validate_cloud_event(event)
    return event


def samples() -> Iterator[tuple[str, CloudEvent]]:
    for name, envelope in iter_samples():
        yield name, read(envelope)


def field_names(value: Any) -> set[str]:
    """Every key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {name for inner in value.values() for name in field_names(inner)}
    if isinstance(value, list):
        return {name for inner in value for name in field_names(inner)}
    return set()


def assert_only_receivable(kind: PartnerKind, receivable: set[str]) -> None:
    """Every other event type of the catalogue: not deliverable to `kind`, and no data if it were asked."""
    for name, event in samples():
        if name in receivable:
            continue
        assert not may_receive(kind, event.type), name
        assert minimise(kind, event)["data"] == {}, name


def test_the_table_is_the_contract_s_table() -> None:
    assert {kind: dict(events) for kind, events in ALLOWED_FIELDS.items()} == EXPECTED
    catalogue = {name for name, _ in samples()}
    for kind, events in EXPECTED.items():
        assert set(events) <= catalogue, f"{kind}: not an event of the catalogue"


def test_a_housing_corporation_learns_minors_pickup_support_and_arrangements_and_nothing_more() -> None:
    kind = PartnerKind.housing_corporation
    opened = sample("case.opened")
    assert minimise(kind, opened)["data"] == {"case_id": opened.data["case_id"], "has_minors": True}
    for absent in ("household_id", "opened_by", "priority", "team"):
        assert absent not in minimise(kind, opened)["data"]

    # Whether it was picked up, never why not (R3): the outcome code stays inside.
    for outcome, picked_up in [
        ("not_picked_up_unjustified_signal", False),
        ("not_picked_up_repeat_signal", False),
        ("resident_deceased", True),
        ("eviction_averted", True),
    ]:
        payload = minimise(kind, sample("case.closed", outcome=outcome))
        assert payload["data"] == {"picked_up": picked_up}
        assert outcome not in json.dumps(payload)

    # In support yes/no, and whether a payment or debt arrangement is part of it; no other kind of support.
    started = minimise(kind, sample("support.started", kind="payment_arrangement"))
    assert started["data"] == {
        "in_support": True,
        "arrangement": "payment_arrangement",
        "active_arrangements": ["payment_arrangement"],
    }
    guidance = minimise(kind, sample("support.started", kind="protective_administration"))
    assert guidance["data"] == {"in_support": True, "arrangement": None, "active_arrangements": []}
    assert "protective_administration" not in json.dumps(guidance)
    ended = minimise(kind, sample("support.ended", kind="debt_arrangement"))
    assert ended["data"] == {"in_support": False, "arrangement": "debt_arrangement", "active_arrangements": []}
    for payload in (started, guidance, ended):
        assert not {"support_id", "kind", "started_on", "ended_on"} & set(payload["data"])

    # Whether the household is still in support after one support ended: from the case's facts, not the event.
    other_support = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    facts = Facts(has_minors=True, supports={other_support: "debt_arrangement"})
    facts = apply(facts, sample("support.started", kind="budget_management"))
    still = minimise(kind, sample("support.ended", kind="budget_management"), facts)
    assert still["data"] == {"in_support": True, "arrangement": None, "active_arrangements": ["debt_arrangement"]}
    assert other_support not in json.dumps(still)

    assert_only_receivable(kind, set(EXPECTED[kind]))
    for never in ("signal.received", "contact.attempted", "oco.accepted", "child-assessment.recorded"):
        assert not may_receive(kind, PREFIX + never)


def test_a_bailiff_learns_whether_children_are_present_and_nothing_more() -> None:
    kind = PartnerKind.bailiff
    opened = sample("case.opened", has_minors=False)
    assert minimise(kind, opened)["data"] == {"case_id": opened.data["case_id"], "children_present": False}
    assert not {"household_id", "opened_by", "priority", "team"} & set(minimise(kind, opened)["data"])
    assert_only_receivable(kind, set(EXPECTED[kind]))
    # No support details, no debts: not even that support started.
    for never in ("support.started", "support.ended", "signal.received", "case.closed", "oco.accepted"):
        assert not may_receive(kind, PREFIX + never)


def test_mee_noord_receives_a_referral_on_an_accepted_offer_and_no_case_event() -> None:
    kind = PartnerKind.client_support
    accepted = sample("oco.accepted")
    payload = minimise(kind, accepted)
    assert payload["type"] == REFERRAL_TYPE
    assert payload["data"] == {"consent_id": accepted.data["consent_id"]}
    assert "moment" not in payload["data"]
    assert_only_receivable(kind, set(EXPECTED[kind]))
    # No consent, nothing: a declined or a bare offer is never deliverable, nor a case's opening.
    for never in ("oco.declined", "oco.offered", "case.opened", "case.closed", "signal.received"):
        assert not may_receive(kind, PREFIX + never)


def test_a_utility_learns_whether_its_signal_was_picked_up_and_nothing_else() -> None:
    kind = PartnerKind.utility
    assert minimise(kind, sample("case.closed", outcome="not_picked_up_other_reason"))["data"] == {"picked_up": False}
    assert minimise(kind, sample("case.closed", outcome="follow_up_financial_help"))["data"] == {"picked_up": True}
    assert "outcome" not in minimise(kind, sample("case.closed"))["data"]
    assert_only_receivable(kind, set(EXPECTED[kind]))
    for never in ("case.opened", "signal.received", "support.started"):
        assert not may_receive(kind, PREFIX + never)


@pytest.mark.parametrize("kind", list(PartnerKind), ids=str)
def test_no_payload_for_any_kind_ever_holds_a_bsn_name_amount_or_address(kind: PartnerKind) -> None:
    """Every event of the catalogue, also with personal fields slipped into its data: none of them comes out."""
    for name, envelope in iter_samples():
        for data in (envelope["data"], envelope["data"] | PERSONAL_VALUES):
            payload = minimise(kind, read({**envelope, "data": data}))
            assert not PERSONAL_FIELDS & field_names(payload), (name, payload)
            text = json.dumps(payload)
            for value in PERSONAL_VALUES.values():
                assert value not in text, (name, value)
            # The envelope's routing facts only: no source (it names the municipality's systems), no trace ids.
            assert set(payload) == {"id", "type", "time", "subject", "data"}


def test_a_referral_passes_on_only_the_contract_s_fields_of_case_api_s_answer() -> None:
    """Should case-api ever answer with more (a BSN, an amount, a birth date), the gateway still drops it."""
    stored = minimise(PartnerKind.client_support, sample("oco.accepted"))
    tenant = {"role": "tenant", "initials": "J.", "given_name": "Jelle", "surname_prefix": "", "surname": "Testhuis"}
    address = {"street": "Proefstraat", "house_number": "12", "house_number_suffix": "", "postcode": "8911 AB"}
    address["city"] = "Leeuwarden"
    consent = {"id": "c-1", "given_at": "2026-03-02T09:30:00Z", "method": "phone", "purpose": "OCO"}
    answer: dict[str, Any] = {
        "case_id": stored["subject"],
        "consent": consent | {"given_by": "J. Testhuis"},
        "names": [tenant | {"birth_date": "1988-04-02", "bsn": "111222333"}],
        "contact": {
            "address": address | {"bsn": "111222333"},
            "mail_address": None,
            "email": "jelle.testhuis@example.invalid",
            "mobile": "0612345678",
            "preferred_channel": "sms",
            "phone_of_the_landlord": "058-0000000",
        },
        "language": "fy",
        "household": {"adults": 1, "minors": 2, "minor_birth_dates": ["2015-06-01"]},
        "eviction_date": "2026-04-15",
        "bsn": "111222333",
        "arrears_amount": "1234.56",
        "debts": [{"creditor": "energy", "amount": "99.00"}],
    }
    body = referral_body(stored, answer)

    assert {key: body[key] for key in ("id", "type", "time", "subject")} == {
        key: stored[key] for key in ("id", "type", "time", "subject")
    }
    data = body["data"]
    assert set(data) == {"consent", "names", "contact", "language", "household", "eviction_date"}
    assert data["names"] == [tenant]
    assert data["contact"]["address"] == address
    assert data["household"] == {"adults": 1, "minors": 2}
    assert set(data["contact"]) == {"address", "mail_address", "email", "mobile", "preferred_channel"}
    assert data["consent"] == consent  # not who gave it
    text = json.dumps(body)
    for never in ("111222333", "1234.56", "99.00", "1988-04-02", "2015-06-01", "058-0000000"):
        assert never not in text
