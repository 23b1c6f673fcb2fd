"""The JSON Schemas and golden samples: complete, valid, strict, and free of personal data."""

import copy
import json
import re
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from eviction_schemas.catalogue import TOPICS, default_topic
from eviction_schemas.envelope import SCHEMA_BASE_URI, dataschema_uri, event_type
from eviction_schemas.registry import (
    EVENT_NAMES,
    ContractError,
    iter_samples,
    load_envelope_schema,
    load_sample,
    load_schema,
    validate_data,
    validate_event,
)

JSON_DIR = files("eviction_schemas") / "json"
SAMPLES_DIR = files("eviction_schemas") / "samples"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# Property names that would let personal data or a debt into an event (R15, contract.md).
PERSONAL = ("name", "bsn", "address", "email", "phone", "mobile", "amount", "iban", "birth")


def all_schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    yield "common.schema.json", json.loads((JSON_DIR / "common.schema.json").read_text())
    yield "envelope.schema.json", load_envelope_schema()
    for name in EVENT_NAMES:
        yield f"events/{name}.v1.schema.json", load_schema(name)


def schema_id(value: object) -> str:
    return value if isinstance(value, str) else ""


def subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from subschemas(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from subschemas(item)


def test_the_catalogue_is_the_contracts_catalogue() -> None:
    assert len(EVENT_NAMES) == 42
    assert len(set(EVENT_NAMES)) == 42
    assert {default_topic(name) for name in EVENT_NAMES} == set(TOPICS)


def test_every_event_has_a_schema_and_a_sample_and_nothing_else_does() -> None:
    schema_files = {r.name for r in (JSON_DIR / "events").iterdir() if r.name.endswith(".json")}
    sample_files = {r.name for r in SAMPLES_DIR.iterdir() if r.name.endswith(".json")}

    assert schema_files == {f"{name}.v1.schema.json" for name in EVENT_NAMES}
    assert sample_files == {f"{name}.v1.json" for name in EVENT_NAMES}
    assert [name for name, _ in iter_samples()] == list(EVENT_NAMES)


@pytest.mark.parametrize(("file", "schema"), list(all_schemas()), ids=schema_id)
def test_every_schema_is_valid_json_schema_2020_12(file: str, schema: dict[str, Any]) -> None:
    assert schema["$schema"] == DRAFT_2020_12
    assert schema["$id"] == SCHEMA_BASE_URI + file
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_event_schema_id_is_its_dataschema_uri(name: str) -> None:
    assert load_schema(name)["$id"] == dataschema_uri(name)


@pytest.mark.parametrize(("file", "schema"), list(all_schemas()), ids=schema_id)
def test_every_object_is_closed_and_requires_only_what_it_defines(file: str, schema: dict[str, Any]) -> None:
    for sub in subschemas(schema):
        if "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{file}: an open object"
            assert set(sub.get("required", [])) <= set(sub["properties"]), f"{file}: unknown required"


@pytest.mark.parametrize(("file", "schema"), list(all_schemas()), ids=schema_id)
def test_no_schema_has_a_field_that_looks_like_personal_data(file: str, schema: dict[str, Any]) -> None:
    names: set[str] = set()
    for sub in subschemas(schema):
        names.update(sub.get("properties", {}))
        names.update(sub.get("$defs", {}))
        names.update(name for name in sub.get("required", []) if isinstance(name, str))
    suspicious = sorted(n for n in names if any(word in n.lower() for word in PERSONAL))
    assert suspicious == [], f"{file} has fields that look like personal data or a debt: {suspicious}"


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_every_sample_validates(name: str) -> None:
    sample = load_sample(name)

    validate_event(sample)

    assert sample["type"] == event_type(name)
    assert sample["dataschema"] == dataschema_uri(name)


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_every_sample_shows_every_field_of_its_event(name: str) -> None:
    assert set(load_sample(name)["data"]) == set(load_schema(name)["properties"])


def test_samples_of_a_producer_share_the_case_and_keep_order() -> None:
    by_source: dict[str, list[dict[str, Any]]] = {}
    for _, sample in iter_samples():
        by_source.setdefault(sample["source"], []).append(sample)
    assert len(by_source) == 3
    for samples in by_source.values():
        sequences = [s["sequence"] for s in samples]
        assert sequences == sorted(set(sequences))
        assert [s["time"] for s in samples] == sorted(s["time"] for s in samples)
    assert len({s["subject"] for _, s in iter_samples()}) == 1
    assert len({(s["source"], s["id"]) for _, s in iter_samples()}) == len(EVENT_NAMES)


@pytest.mark.parametrize("name", EVENT_NAMES)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Jan de Vries"),
        ("bsn", "123456782"),
        ("address", "Voorstraat 1, Dokkum"),
        ("email", "jan@example.invalid"),
        ("arrears_amount", 1250.5),
    ],
)
def test_a_sample_with_personal_data_fails(name: str, field: str, value: object) -> None:
    sample = load_sample(name)
    sample["data"][field] = value

    with pytest.raises(ContractError) as caught:
        validate_event(sample)

    assert caught.value.path == "$.data"
    assert field in caught.value.problem


def test_personal_data_in_the_envelope_fails() -> None:
    sample = load_sample("case.opened")
    sample["bsn"] = "123456782"

    with pytest.raises(ContractError, match=r"^\$: Additional properties are not allowed \('bsn'"):
        validate_event(sample)


def test_a_bsn_as_subject_fails() -> None:
    sample = load_sample("case.opened")
    sample["subject"] = "123456782"

    with pytest.raises(ContractError) as caught:
        validate_event(sample)

    assert caught.value.path == "$.subject"
    assert "123456782" not in str(caught.value)  # errors reach logs: they never repeat the value


@pytest.mark.parametrize(
    ("name", "change", "path"),
    [
        ("case.opened", {"priority": "urgent"}, "$.data.priority"),
        ("case.opened", {"has_minors": "yes"}, "$.data.has_minors"),
        ("case.opened", {"team": "Team Noord"}, "$.data.team"),
        ("signal.received", {"signal_date": "03-02-2025"}, "$.data.signal_date"),
        ("signal.received", {"arrears_since": "2025-02-30"}, "$.data.arrears_since"),
        ("signal.received", {"partner_kind": "landlord"}, "$.data.partner_kind"),
        ("support.started", {"support_id": "not-a-uuid"}, "$.data.support_id"),
        ("oco.offered", {"channels": ["letter", "pigeon"]}, "$.data.channels[1]"),
        ("oco.offered", {"channels": []}, "$.data.channels"),
        ("oco.offered", {"moment": "M10"}, "$.data.moment"),
        ("contact.attempted", {"part_of_day": "night"}, "$.data.part_of_day"),
        ("contact.attempted", {"channel": "caseworker_task"}, "$.data.channel"),
        ("case.closed", {"outcome": "done"}, "$.data.outcome"),
        ("notification.sent", {"attempt": 0}, "$.data.attempt"),
        ("notification.sent", {"provider_reference": "to jan@example.invalid"}, "$.data.provider_reference"),
        ("legal.summons-served", {"court_reference": "  "}, "$.data.court_reference"),
    ],
)
def test_bad_data_names_the_path(name: str, change: dict[str, Any], path: str) -> None:
    sample = load_sample(name)
    sample["data"].update(change)

    with pytest.raises(ContractError) as caught:
        validate_event(sample)

    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}: ")


def test_a_missing_field_is_named() -> None:
    sample = load_sample("case.opened")
    del sample["data"]["household_id"]

    with pytest.raises(ContractError, match=r"^\$\.data: 'household_id' is a required property$"):
        validate_event(sample)


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("time", "2025-02-06T09:37:01+01:00", "$.time"),  # the platform writes UTC with a Z
        ("time", "2025-13-06T08:37:01Z", "$.time"),  # a month 13 passes the pattern, not the format
        ("specversion", "0.3", "$.specversion"),
        ("datacontenttype", "text/plain", "$.datacontenttype"),
        ("source", "urn:nld:oin:123:systeem:case-api", "$.source"),
        ("sequence", "1", "$.sequence"),
        ("id", "1D2E3F40-5A6B-4C7D-8E9F-000000000001", "$.id"),
        ("data", [], "$.data"),
    ],
)
def test_bad_envelope_names_the_path(field: str, value: object, path: str) -> None:
    sample = load_sample("case.opened")
    sample[field] = value

    with pytest.raises(ContractError) as caught:
        validate_event(sample)

    assert caught.value.path == path


def test_a_missing_attribute_is_named() -> None:
    sample = load_sample("case.opened")
    del sample["sequence"]

    with pytest.raises(ContractError, match=r"^\$: 'sequence' is a required property$"):
        validate_event(sample)


def test_an_unknown_type_is_refused() -> None:
    sample = load_sample("case.opened")
    sample["type"] = "nl.eviction-prevention.case.reopened"

    with pytest.raises(ContractError, match=r"^\$\.type: unknown event type"):
        validate_event(sample)


def test_a_version_without_a_schema_is_refused() -> None:
    sample = load_sample("case.opened")
    sample["type"] = "nl.eviction-prevention.case.opened.v2"
    sample["dataschema"] = dataschema_uri("case.opened", 2)

    with pytest.raises(ContractError, match=r"^\$\.type: unknown event type"):
        validate_event(sample)


def test_dataschema_must_name_the_schema_of_the_type() -> None:
    sample = load_sample("case.opened")
    sample["dataschema"] = dataschema_uri("case.closed")

    with pytest.raises(ContractError, match=r"^\$\.dataschema: must be .*case\.opened\.v1\.schema\.json"):
        validate_event(sample)


def test_the_data_is_checked_against_the_type_not_the_other_way_round() -> None:
    sample = load_sample("case.opened")
    sample["data"] = load_sample("case.closed")["data"]

    with pytest.raises(ContractError, match=r"^\$\.data: "):
        validate_event(sample)


def test_an_event_that_is_no_object_is_refused() -> None:
    with pytest.raises(ContractError, match=r"^\$: an event must be a JSON object"):
        validate_event([])  # type: ignore[arg-type]


def test_validate_data_alone() -> None:
    validate_data("case.closed", {"outcome": "evicted"})
    with pytest.raises(ContractError, match=r"^\$\.data\.outcome: value is not one of"):
        validate_data("case.closed", {"outcome": "Jan de Vries"})
    with pytest.raises(ValueError, match=r"no schema for event 'case\.reopened'"):
        validate_data("case.reopened", {})
    with pytest.raises(ValueError, match="no schema"):
        validate_data("../envelope", {})


def test_error_messages_never_repeat_the_value() -> None:
    sample = load_sample("case.opened")
    sample["data"]["team"] = "Jan de Vries 123456782"

    with pytest.raises(ContractError) as caught:
        validate_event(sample)

    assert "Vries" not in str(caught.value)
    assert "123456782" not in str(caught.value)
    assert caught.value.problem.startswith("value does not match")


def test_contract_error_is_a_value_error() -> None:
    assert issubclass(ContractError, ValueError)


def test_loaded_schemas_and_samples_are_copies() -> None:
    load_schema("case.opened")["properties"].clear()
    load_sample("case.opened")["data"].clear()

    assert load_schema("case.opened")["properties"]
    validate_event(load_sample("case.opened"))


def test_enums_are_the_domains_vocabulary() -> None:
    common = json.loads((JSON_DIR / "common.schema.json").read_text())["$defs"]

    assert common["partner_kind"]["enum"] == ["housing_corporation", "bailiff", "client_support", "utility"]
    channels = {"email", "sms", "letter", "caseworker_task", "phone", "home_visit"}
    assert set(common["channel"]["enum"]) == channels
    assert common["priority"]["enum"] == ["normal", "high", "highest"]
    assert common["opened_by"]["enum"] == ["signal", "partner_message", "staff"]
    assert common["part_of_day"]["enum"] == ["morning", "afternoon", "evening"]
    assert common["moment"]["enum"] == [f"M{n}" for n in range(1, 10)]
    assert {"eviction_averted", "evicted"} <= set(common["outcome"]["enum"])
    assert len(common["outcome"]["enum"]) == 17
    assert all(re.fullmatch("[a-z_]+", code) for code in common["outcome"]["enum"])


def test_a_change_to_a_sample_does_not_leak_into_the_next_load() -> None:
    first = load_sample("oco.offered")
    second = copy.deepcopy(first)
    first["data"]["channels"].append("phone")

    assert load_sample("oco.offered") == second
