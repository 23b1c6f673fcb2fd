"""Data minimisation per partner kind (R3, R16; the table in spec/contract.md): what each kind may see of a
case.opened, and that nothing outside the allow-list ever reaches a partner."""

import json
from typing import Any

import pytest

from eviction_schemas.envelope import CloudEvent
from eviction_schemas.registry import iter_samples, load_sample
from partner_gateway.deliveries.minimisation import may_receive, minimise
from partner_gateway.partners.models import PartnerKind

CASE_OPENED = "nl.eviction-prevention.case.opened"

# Written out from the contract's table, not derived from the code under test.
EXPECTED_CASE_OPENED_DATA = {
    # "case picked up yes/no ... household with minors yes/no (to weigh R10)"
    PartnerKind.housing_corporation: {"case_id", "has_minors"},
    # "children present yes/no for planning"
    PartnerKind.bailiff: {"case_id", "has_minors"},
    # "picked up yes/no for their own signals"
    PartnerKind.utility: {"case_id"},
}

NEVER_TO_A_PARTNER = {"household_id", "team", "priority", "opened_by"}


def read(envelope: dict[str, Any]) -> CloudEvent:
    """As a consumer reads it off the topic."""
    return CloudEvent.from_json_bytes(json.dumps(envelope))


def sample_case_opened() -> CloudEvent:
    return read(load_sample("case.opened"))


@pytest.mark.parametrize("kind", sorted(EXPECTED_CASE_OPENED_DATA), ids=str)
def test_a_partner_kind_receives_exactly_its_allowed_fields_of_a_case_opened(kind: PartnerKind) -> None:
    event = sample_case_opened()
    assert may_receive(kind, CASE_OPENED)

    payload = minimise(kind, event)

    assert set(payload["data"]) == EXPECTED_CASE_OPENED_DATA[kind]
    assert not NEVER_TO_A_PARTNER & set(payload["data"])
    assert all(payload["data"][name] == event.data[name] for name in payload["data"])
    # The envelope's routing facts only: no source (it names the municipality's systems), no trace ids.
    assert payload == {
        "id": event.id,
        "type": CASE_OPENED,
        "time": "2025-02-06T08:37:01+00:00",
        "subject": event.subject,
        "data": payload["data"],
    }


def test_client_support_may_not_receive_a_case_opened_and_would_get_no_data() -> None:
    """MEE Noord gets referrals with consent (R9), never a bare case.opened."""
    assert not may_receive(PartnerKind.client_support, CASE_OPENED)
    assert minimise(PartnerKind.client_support, sample_case_opened())["data"] == {}


@pytest.mark.parametrize("kind", list(PartnerKind), ids=str)
def test_a_field_new_to_an_event_stays_inside_until_someone_allows_it(kind: PartnerKind) -> None:
    envelope: dict[str, Any] = load_sample("case.opened")
    envelope["data"] |= {"bsn": "999990019", "surname": "Jansen", "arrears_amount": "1234.56"}
    payload = minimise(kind, read(envelope))
    assert not {"bsn", "surname", "arrears_amount"} & set(payload["data"])
    assert "999990019" not in str(payload)
    assert "Jansen" not in str(payload)


@pytest.mark.parametrize("kind", list(PartnerKind), ids=str)
def test_no_event_of_the_catalogue_leaks_more_than_case_opened_allows(kind: PartnerKind) -> None:
    """Every other event type is not (yet) on any kind's allow-list: not receivable, and no data if asked."""
    for name, envelope in iter_samples():
        event = read(envelope)
        allowed = EXPECTED_CASE_OPENED_DATA.get(kind, set()) if name == "case.opened" else set()
        assert may_receive(kind, event.type) == bool(allowed), name
        assert set(minimise(kind, event)["data"]) == allowed, name
