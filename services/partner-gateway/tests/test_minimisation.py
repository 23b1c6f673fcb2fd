"""Data minimisation per partner kind (R3, R9, R16; the table in spec/contract.md), over the golden sample events
of the catalogue (schemas/.../samples): for each kind, which event types it may receive, which fields it gets
and which it never gets; and that no payload for any kind ever holds a BSN, a name, an amount or an address."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from eviction_schemas.envelope import CloudEvent
from eviction_schemas.registry import iter_samples, load_sample, validate_cloud_event
from partner_gateway.deliveries.facts import Facts, apply
from partner_gateway.deliveries.minimisation import (
    ALLOWED_FIELDS,
    REFERRAL_TYPE,
    SNAPSHOT_TYPE,
    may_receive,
    minimise,
    needs_contact_person,
    referral_body,
    sends,
    snapshot,
    with_contact_person,
)
from partner_gateway.partners.models import PartnerKind

PREFIX = "nl.eviction-prevention."

# Written out from the contract's table, not derived from the code under test.
EXPECTED: dict[PartnerKind, dict[str, set[str]]] = {
    # "case picked up yes/no, household in support yes/no, payment or debt arrangement active, request to postpone
    # or to offer a second-chance agreement, household with minors yes/no (to weigh R10)"
    PartnerKind.housing_corporation: {
        "case.opened": {"case_id", "has_minors"},
        "household.updated": {"has_minors"},
        "case.closed": {"picked_up"},
        "support.started": {"in_support", "arrangement", "active_arrangements"},
        "support.ended": {"in_support", "arrangement", "active_arrangements"},
        "postponement.requested": {"request_id", "eviction_date", "requested_on"},
        "second-chance.requested": {"request_id", "requested_on"},
    },
    # "request to postpone with grounds category, contact person, children present yes/no for planning"
    PartnerKind.bailiff: {
        "case.opened": {"case_id", "children_present"},
        "household.updated": {"children_present"},
        "postponement.requested": {"request_id", "eviction_date", "requested_on", "grounds_category"},
        "contact-person.assigned": {"contact_person"},
    },
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
    # A corporation's household composition (arrears.reported, signal files) goes to case-api only (issue 10).
    "minors_count",
    "birth_years",
    "reported_minors",
}
HOUSEHOLD_FACTS = {"minors_count": 2, "birth_years": [1988, 2016, 2019], "reported_minors": 2}
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


def test_a_corporation_is_asked_to_postpone_without_the_grounds_and_told_of_minors_only_when_that_changes() -> None:
    kind = PartnerKind.housing_corporation
    both = sample("postponement.requested", recipients=["housing_corporation", "bailiff"])
    payload = minimise(kind, both)
    assert sends(kind, both)
    assert payload["data"] == {
        "request_id": both.data["request_id"],
        "eviction_date": both.data["eviction_date"],
        "requested_on": both.data["requested_on"],
    }
    assert "grounds_category" not in payload["data"]
    assert both.data["grounds_category"] not in json.dumps(payload), "the bailiff's grounds never reach the landlord"
    assert not sends(kind, sample("postponement.requested", recipients=["bailiff"])), "not addressed to it"

    second_chance = sample("second-chance.requested")
    assert minimise(kind, second_chance)["data"] == {
        "request_id": second_chance.data["request_id"],
        "requested_on": second_chance.data["requested_on"],
    }

    # household.updated: minors yes/no when that changed, nothing else of the household.
    updated = sample("household.updated", has_minors=True)
    assert sends(kind, updated, Facts(has_minors=False))
    assert minimise(kind, updated, Facts(has_minors=False))["data"] == {"has_minors": True}
    assert not sends(kind, updated, Facts(has_minors=True)), "a change of language or contact tells it nothing"
    for never in ("household_id", "priority", "language", "reachable_channels", "changed"):
        assert never not in minimise(kind, updated)["data"]
    assert not may_receive(kind, PREFIX + "contact-person.assigned")


def test_a_bailiff_gets_the_grounds_category_the_contact_person_and_children_present_and_no_second_chance() -> None:
    kind = PartnerKind.bailiff
    both = sample("postponement.requested", recipients=["bailiff", "housing_corporation"], grounds_category="other")
    assert sends(kind, both)
    assert minimise(kind, both)["data"] == {
        "request_id": both.data["request_id"],
        "eviction_date": both.data["eviction_date"],
        "requested_on": both.data["requested_on"],
        "grounds_category": "other",
    }
    assert "recipients" not in minimise(kind, both)["data"]
    assert not sends(kind, sample("postponement.requested", recipients=["housing_corporation"]))

    updated = sample("household.updated", has_minors=False)
    assert minimise(kind, updated, Facts(has_minors=True))["data"] == {"children_present": False}
    assert not sends(kind, updated, Facts(has_minors=False))

    # The contact person: only its kind is stored; who it is comes from case-api when the webhook is sent.
    assigned = minimise(kind, sample("contact-person.assigned", contact_kind="team"))
    assert assigned["data"] == {"contact_person": {"kind": "team"}}
    assert needs_contact_person(assigned)
    answer = {
        "case_id": assigned["subject"],
        "kind": "team",
        "name": "Gebiedsteam Noord",
        "work_email": "noord@gemeente.example",
        "work_phone": None,
        "assigned_by": "caseworker-1",
        "assigned_at": "2026-03-02T09:30:00Z",
    }
    sent = with_contact_person(assigned, answer)
    assert sent["data"] == {
        "contact_person": {
            "kind": "team",
            "name": "Gebiedsteam Noord",
            "work_email": "noord@gemeente.example",
            "work_phone": None,
        }
    }
    assert with_contact_person(assigned, None)["data"] == {"contact_person": None}
    for never in ("second-chance.requested", "support.started", "support.ended", "case.closed"):
        assert not may_receive(kind, PREFIX + never)


def test_a_snapshot_holds_the_current_facts_each_kind_may_see_of_its_subscribed_types() -> None:
    request = sample("postponement.requested", recipients=["housing_corporation", "bailiff"])
    facts = Facts()
    for event in (
        sample("case.opened", has_minors=False),
        sample("household.updated", has_minors=True),
        sample("support.started", kind="budget_management"),
        request,
        sample("second-chance.requested"),
        sample("contact-person.assigned", contact_kind="caseworker"),
    ):
        facts = apply(facts, event)
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

    def data(kind: PartnerKind, *event_types: str) -> dict[str, Any] | None:
        body = snapshot(kind, facts, event_types=event_types, case_id="c", snapshot_id="s", at=at)
        if body is not None:
            assert (body["type"], body["subject"], body["id"]) == (SNAPSHOT_TYPE, "c", "s")
        return None if body is None else body["data"]

    corporation = PartnerKind.housing_corporation
    assert data(corporation, *EXPECTED[corporation]) == {
        "case_id": "c",
        "has_minors": True,
        "in_support": True,
        "active_arrangements": [],
        "picked_up": None,
        "postponement_request": {
            "request_id": request.data["request_id"],
            "eviction_date": request.data["eviction_date"],
            "requested_on": request.data["requested_on"],
        },
        "second_chance_request": {
            "request_id": sample("second-chance.requested").data["request_id"],
            "requested_on": sample("second-chance.requested").data["requested_on"],
        },
    }
    assert data(corporation, "case.opened") == {"case_id": "c", "has_minors": True}
    bailiff = PartnerKind.bailiff
    assert data(bailiff, *EXPECTED[bailiff]) == {
        "case_id": "c",
        "children_present": True,
        "postponement_request": {
            "request_id": request.data["request_id"],
            "eviction_date": request.data["eviction_date"],
            "requested_on": request.data["requested_on"],
            "grounds_category": request.data["grounds_category"],
        },
        "contact_person": {"kind": "caseworker"},
    }
    assert data(PartnerKind.utility, "case.closed") is None, "picked up is not known while the case is open"
    assert data(PartnerKind.client_support, "oco.accepted") is None

    # The request is answered once the date moves: it is no longer in what a partner linked later learns.
    answered = apply(facts, sample("eviction.postponed"))
    assert answered.postponement_request is None
    body = snapshot(bailiff, answered, event_types=["postponement.requested"], case_id="c", snapshot_id="s", at=at)
    assert body is None
    # The corporation offered a second-chance agreement: the request to offer one was answered.
    offered = apply(facts, sample("second-chance-agreement.offered"))
    assert offered.second_chance_request is None
    assert (
        snapshot(corporation, offered, event_types=["second-chance.requested"], case_id="c", snapshot_id="s", at=at)
        is None
    )
    closed = apply(facts, sample("case.closed", outcome="not_picked_up_unjustified_signal"))
    body = snapshot(PartnerKind.utility, closed, event_types=["case.closed"], case_id="c", snapshot_id="s", at=at)
    assert body is not None
    assert body["data"] == {"case_id": "c", "picked_up": False}
    assert "not_picked_up_unjustified_signal" not in json.dumps(closed.to_json())


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
        for data in (envelope["data"], envelope["data"] | PERSONAL_VALUES, envelope["data"] | HOUSEHOLD_FACTS):
            payload = minimise(kind, read({**envelope, "data": data}))
            assert not PERSONAL_FIELDS & field_names(payload), (name, payload)
            text = json.dumps(payload)
            for value in PERSONAL_VALUES.values():
                assert value not in text, (name, value)
            assert "2016" not in text, name
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
    assert set(data) == {"reference", "consent", "names", "contact", "language", "household", "eviction_date"}
    assert data["reference"] == stored["data"]["consent_id"]  # the referral's reference in MEE Noord's messages
    assert data["names"] == [tenant]
    assert data["contact"]["address"] == address
    assert data["household"] == {"adults": 1, "minors": 2}
    assert set(data["contact"]) == {"address", "mail_address", "email", "mobile", "preferred_channel"}
    assert data["consent"] == consent  # not who gave it
    text = json.dumps(body)
    for never in ("111222333", "1234.56", "99.00", "1988-04-02", "2015-06-01", "058-0000000"):
        assert never not in text
