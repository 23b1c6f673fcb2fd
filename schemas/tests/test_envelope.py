"""The CloudEvents envelope: building, structured-mode round trip, and the helpers' refusals."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from eviction_schemas.envelope import (
    CASE_EVENTS_TOPIC,
    NOTIFICATION_EVENTS_TOPIC,
    PARTNER_EVENTS_TOPIC,
    STRUCTURED_CONTENT_TYPE,
    CloudEvent,
    dataschema_uri,
    default_topic,
    dlq_topic,
    event_type,
    format_sequence,
    make_event,
    parse_event_type,
    source_urn,
)
from eviction_schemas.registry import EVENT_NAMES, load_sample, validate_cloud_event, validate_event

OIN = "00000099999999990000"
CASE_ID = "3f1c2a9e-8b7d-4c6e-9a51-2d4e6f8a0b1c"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
COMMITTED = datetime(2025, 3, 4, 9, 15, 30, 123456, tzinfo=UTC)
CASE_OPENED = {
    "case_id": CASE_ID,
    "household_id": "7a9b3c5d-1e2f-4a6b-8c0d-9e8f7a6b5c4d",
    "opened_by": "staff",
    "priority": "normal",
    "has_minors": False,
    "team": "team-zuid",
}


def opened(**overrides: Any) -> CloudEvent:
    arguments: dict[str, Any] = {
        "event": "case.opened",
        "source_service": "case-api",
        "oin": OIN,
        "subject": CASE_ID,
        "sequence": 1,
        "data": CASE_OPENED,
        "time": COMMITTED,
        "traceparent": TRACEPARENT,
        "event_id": UUID("1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
    }
    arguments.update(overrides)
    return make_event(**arguments)


def test_make_event_fills_every_attribute() -> None:
    event = opened()

    assert event.specversion == "1.0"
    assert event.id == "1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
    assert event.source == f"urn:nld:oin:{OIN}:systeem:case-api"
    assert event.type == "nl.eviction-prevention.case.opened"
    assert event.subject == CASE_ID
    assert event.time == COMMITTED
    assert event.datacontenttype == "application/json"
    assert event.dataschema == dataschema_uri("case.opened")
    assert event.sequence == "00000000000000000001"
    assert event.sequence_number == 1
    assert event.traceparent == TRACEPARENT
    assert event.data == CASE_OPENED
    assert (event.event_name, event.event_version) == ("case.opened", 1)


def test_make_event_output_validates_against_the_contract() -> None:
    validate_cloud_event(opened())
    validate_cloud_event(opened(traceparent=None, event_id=None, sequence=10**19))


def test_make_event_gives_a_fresh_id_each_time() -> None:
    assert opened(event_id=None).id != opened(event_id=None).id


def test_structured_mode_round_trip() -> None:
    event = opened()

    raw = event.to_json_bytes()
    back = CloudEvent.from_json_bytes(raw)

    assert back == event
    assert back.to_json_bytes() == raw
    document = json.loads(raw)
    assert document["time"] == "2025-03-04T09:15:30.123456Z"
    assert document["sequence"] == "00000000000000000001"
    validate_event(document)


def test_round_trip_leaves_out_an_absent_traceparent() -> None:
    raw = opened(traceparent=None).to_json_bytes()

    assert "traceparent" not in json.loads(raw)
    assert CloudEvent.from_json_bytes(raw).traceparent is None


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_every_sample_reads_and_writes_back_identically(name: str) -> None:
    sample = load_sample(name)

    event = CloudEvent.from_json_bytes(json.dumps(sample).encode())

    assert event.to_json_dict() == sample
    assert event.event_name == name


def test_time_is_stored_in_utc() -> None:
    amsterdam_summer = timezone(timedelta(hours=2))
    event = opened(time=datetime(2025, 6, 1, 10, 0, tzinfo=amsterdam_summer))

    assert event.time == datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    assert json.loads(event.to_json_bytes())["time"] == "2025-06-01T08:00:00Z"


def test_time_without_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        opened(time=datetime(2025, 6, 1, 10, 0))


def test_time_as_a_number_is_refused_on_the_wire() -> None:
    document = opened().to_json_dict()
    document["time"] = 1_741_079_730

    with pytest.raises(ValidationError):
        CloudEvent.from_json_bytes(json.dumps(document))


def test_sequence_sorts_as_text_like_as_numbers() -> None:
    numbers = [1, 9, 10, 99, 100, 12_345_678_901]

    texts = [format_sequence(n) for n in numbers]

    assert sorted(texts) == texts
    assert all(len(text) == 20 for text in texts)
    assert [int(text) for text in texts] == numbers


@pytest.mark.parametrize("sequence", [-1, 10**20])
def test_sequence_out_of_range_is_refused(sequence: int) -> None:
    with pytest.raises(ValueError, match="sequence"):
        format_sequence(sequence)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "123456782"),  # a BSN-shaped subject
        ("subject", "Jan de Vries"),
        ("subject", "3F1C2A9E-8B7D-4C6E-9A51-2D4E6F8A0B1C"),  # not canonical
        ("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ("traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ],
)
def test_bad_attributes_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        opened(**{field: value})


def test_unknown_attributes_are_refused_on_the_wire() -> None:
    document = opened().to_json_dict()
    document["bsn"] = "123456782"

    with pytest.raises(ValidationError, match="bsn"):
        CloudEvent.from_json_bytes(json.dumps(document))


def test_unknown_event_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown event 'case\.open'"):
        opened(event="case.open")


def test_source_urn() -> None:
    assert source_urn(OIN, "notifier") == f"urn:nld:oin:{OIN}:systeem:notifier"
    with pytest.raises(ValueError, match="OIN of 20 digits"):
        source_urn("1234", "notifier")
    with pytest.raises(ValueError, match="service"):
        source_urn(OIN, "Case API")


def test_event_type_and_its_inverse() -> None:
    assert event_type("case.opened") == "nl.eviction-prevention.case.opened"
    assert event_type("case.opened", 2) == "nl.eviction-prevention.case.opened.v2"
    assert parse_event_type("nl.eviction-prevention.legal.summons-served") == ("legal.summons-served", 1)
    assert parse_event_type("nl.eviction-prevention.case.opened.v2") == ("case.opened", 2)
    with pytest.raises(ValueError, match="not an event type"):
        parse_event_type("com.example.case.opened")


def test_a_second_version_gets_its_own_type_and_schema_uri() -> None:
    assert dataschema_uri("case.opened", 2).endswith("/events/case.opened.v2.schema.json")
    event = opened(version=2)
    assert event.type == "nl.eviction-prevention.case.opened.v2"
    assert event.event_version == 2


def test_dataschema_uri_points_to_no_real_domain() -> None:
    uri = dataschema_uri("child-assessment.recorded")

    assert uri == ("https://eviction-prevention.invalid/schemas/json/events/child-assessment.recorded.v1.schema.json")


def test_topics() -> None:
    assert CASE_EVENTS_TOPIC == "eviction-prevention.case-events.v1"
    assert NOTIFICATION_EVENTS_TOPIC == "eviction-prevention.notification-events.v1"
    assert PARTNER_EVENTS_TOPIC == "eviction-prevention.partner-events.v1"
    assert dlq_topic(CASE_EVENTS_TOPIC, "notifier") == "eviction-prevention.case-events.v1.dlq.notifier"
    assert default_topic("case.closed") == CASE_EVENTS_TOPIC
    assert default_topic("notification.failed") == NOTIFICATION_EVENTS_TOPIC
    assert default_topic("partner.delivery-failed") == PARTNER_EVENTS_TOPIC
    assert STRUCTURED_CONTENT_TYPE == "application/cloudevents+json"
