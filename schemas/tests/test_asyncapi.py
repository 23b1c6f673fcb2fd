"""The AsyncAPI document: it lists every topic and event, agrees with the JSON Schemas, and passes the
official parser (run through node), which must also be able to fail."""

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eviction_schemas.catalogue import (
    CASE_EVENTS,
    NOTIFICATION_EVENTS,
    PARTNER_EVENTS,
    TOPICS,
    default_topic,
)
from eviction_schemas.envelope import STRUCTURED_CONTENT_TYPE, dataschema_uri, event_type
from eviction_schemas.registry import EVENT_NAMES

SCHEMAS = Path(__file__).resolve().parents[1]
DOCUMENT = SCHEMAS / "asyncapi" / "asyncapi.yaml"
VALIDATOR = SCHEMAS / "asyncapi" / "validate"
JSON_DIR = SCHEMAS / "src" / "eviction_schemas" / "json"

Validate = Callable[[Path], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def channel_of(document: dict[str, Any], topic: str) -> tuple[str, dict[str, Any]]:
    for key, channel in document["channels"].items():
        if channel["address"] == topic:
            return key, channel
    raise AssertionError(f"no channel with address {topic}")


def test_it_is_asyncapi_3_1_0(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.1.0"
    assert document["defaultContentType"] == STRUCTURED_CONTENT_TYPE
    assert document["servers"]["local"] == {
        **document["servers"]["local"],
        "host": "127.0.0.1:9092",
        "protocol": "kafka",
    }
    assert "production" in document["servers"]


def test_it_states_the_binding_key_and_dead_letter_naming(document: dict[str, Any]) -> None:
    description = document["info"]["description"]

    assert "structured" in description
    assert "Record key = the case id" in description
    assert "`<topic>.dlq.<group>`" in description
    for header in ("dlq-reason", "dlq-original-topic", "dlq-original-offset", "dlq-consumer-group"):
        assert header in description


def test_every_topic_is_a_channel(document: dict[str, Any]) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}

    assert addresses == {*TOPICS, "{topic}.dlq.{group}"}
    dead_letters = next(c for c in document["channels"].values() if c["address"] == "{topic}.dlq.{group}")
    assert dead_letters["parameters"]["topic"]["enum"] == list(TOPICS)


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_every_event_is_a_message_on_its_topic(document: dict[str, Any], name: str) -> None:
    message = document["components"]["messages"][name]
    key, channel = channel_of(document, default_topic(name))

    assert message["name"] == event_type(name)
    assert channel["messages"][name] == {"$ref": f"#/components/messages/{name}"}
    envelope, specific = message["payload"]["allOf"]
    assert envelope == {"$ref": "#/components/schemas/CloudEvent"}
    assert specific["properties"]["type"] == {"const": event_type(name)}
    assert specific["properties"]["dataschema"] == {"const": dataschema_uri(name)}
    data_ref = specific["properties"]["data"]["$ref"]
    assert (DOCUMENT.parent / data_ref).resolve() == JSON_DIR / "events" / f"{name}.v1.schema.json"
    sends = [
        op
        for op in document["operations"].values()
        if op["action"] == "send" and op["channel"] == {"$ref": f"#/channels/{key}"}
    ]
    assert len(sends) == 1
    assert {"$ref": f"#/channels/{key}/messages/{name}"} in sends[0]["messages"]


def test_every_message_is_an_event_or_the_dead_letter(document: dict[str, Any]) -> None:
    assert set(document["components"]["messages"]) == {*EVENT_NAMES, "deadLetter"}


def test_producers_and_consumers(document: dict[str, Any]) -> None:
    operations = document["operations"].values()

    def messages(action: str, address: str, tag: str) -> list[str]:
        key, _ = channel_of(document, address)
        found = [
            ref["$ref"].rsplit("/", 1)[1]
            for op in operations
            if op["action"] == action
            and op["channel"] == {"$ref": f"#/channels/{key}"}
            and {"name": tag} in op.get("tags", [])
            for ref in op["messages"]
        ]
        return found

    assert messages("send", TOPICS[0], "case-api") == list(CASE_EVENTS)
    assert messages("send", TOPICS[1], "notifier") == list(NOTIFICATION_EVENTS)
    assert messages("send", TOPICS[2], "partner-gateway") == list(PARTNER_EVENTS)
    assert messages("receive", TOPICS[0], "notifier") == list(CASE_EVENTS)
    assert messages("receive", TOPICS[0], "partner-gateway") == list(CASE_EVENTS)


def test_structured_mode_keyed_by_case(document: dict[str, Any]) -> None:
    components = document["components"]
    trait = components["messageTraits"]["CloudEventStructured"]

    headers = components["schemas"]["RecordHeaders"]
    kafka = components["messageBindings"]["CaseKeyed"]["kafka"]

    assert trait["contentType"] == STRUCTURED_CONTENT_TYPE
    assert headers["properties"]["content-type"]["const"] == STRUCTURED_CONTENT_TYPE
    assert kafka["key"] == {"$ref": "#/components/schemas/CaseId"}
    assert components["schemas"]["CaseId"]["format"] == "uuid"
    assert components["schemas"]["CloudEvent"]["$ref"] == "../src/eviction_schemas/json/envelope.schema.json"
    for name in EVENT_NAMES:
        assert components["messages"][name]["traits"] == [{"$ref": "#/components/messageTraits/CloudEventStructured"}]


@pytest.fixture(scope="module")
def validate() -> Validate:
    """Runs validate.mjs with node; installs the parser with `npm ci` first when it is missing."""
    installed = (VALIDATOR / "node_modules" / "@asyncapi" / "parser" / "package.json").is_file()
    node, npm = shutil.which("node"), shutil.which("npm")
    if not installed:
        if npm is None:
            pytest.skip("the AsyncAPI parser is not installed and npm is not available to install it")
        subprocess.run([npm, "ci", "--prefix", str(VALIDATOR)], check=True, timeout=600)
    if node is None:
        pytest.skip("node is not available to run the AsyncAPI parser")

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [node, str(VALIDATOR / "validate.mjs"), str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def test_the_official_parser_accepts_the_document(validate: Validate) -> None:
    result = validate(DOCUMENT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid AsyncAPI 3.1.0" in result.stdout
    assert "0 errors, 0 warnings" in result.stdout


def copy_layout(root: Path) -> Path:
    """The document and the schemas it refers to, at the same relative places."""
    shutil.copytree(JSON_DIR, root / "src" / "eviction_schemas" / "json")
    (root / "asyncapi").mkdir()
    return root / "asyncapi" / "asyncapi.yaml"


def test_the_validator_fails_a_document_without_info(validate: Validate, tmp_path: Path) -> None:
    copy = copy_layout(tmp_path)
    original: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    copy.write_text(yaml.safe_dump(original, sort_keys=False), encoding="utf-8")
    assert validate(copy).returncode == 0  # the copy itself is fine: only the change below breaks it

    del original["info"]
    copy.write_text(yaml.safe_dump(original, sort_keys=False), encoding="utf-8")
    result = validate(copy)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "error" in result.stdout
    assert "info" in result.stdout
    assert "INVALID" in result.stdout


def test_the_validator_fails_a_broken_schema_reference(validate: Validate, tmp_path: Path) -> None:
    copy = copy_layout(tmp_path)
    (tmp_path / "src" / "eviction_schemas" / "json" / "events" / "case.closed.v1.schema.json").unlink()
    shutil.copy(DOCUMENT, copy)

    result = validate(copy)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "case.closed.v1.schema.json" in result.stdout
