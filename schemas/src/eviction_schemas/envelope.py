"""The envelope of every event on Kafka: CloudEvents 1.0 following the NL GOV profile for CloudEvents.

The platform uses the CloudEvents Kafka protocol binding in **structured mode** everywhere, one mode for every
topic: the record value is the whole event as JSON (`to_json_bytes`), the record header `content-type` is
`application/cloudevents+json`, and the record key is the case id (the event's `subject`), so that Kafka keeps
the events of one case in order. No attribute carries personal data (R15).
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, Self
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from eviction_schemas.catalogue import (
    CASE_EVENTS_TOPIC,
    EVENT_NAMES,
    NOTIFICATION_EVENTS_TOPIC,
    PARTNER_EVENTS_TOPIC,
    TYPE_PREFIX,
    default_topic,
    dlq_topic,
)

__all__ = [
    "CASE_EVENTS_TOPIC",
    "DATA_CONTENT_TYPE",
    "NOTIFICATION_EVENTS_TOPIC",
    "PARTNER_EVENTS_TOPIC",
    "SCHEMA_BASE_URI",
    "SPEC_VERSION",
    "STRUCTURED_CONTENT_TYPE",
    "CloudEvent",
    "dataschema_uri",
    "default_topic",
    "dlq_topic",
    "event_type",
    "format_sequence",
    "make_event",
    "parse_event_type",
    "source_urn",
]

SPEC_VERSION: Final = "1.0"
STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json"
"""The Kafka `content-type` header of every record: CloudEvents structured mode."""
DATA_CONTENT_TYPE: Final = "application/json"
SCHEMA_BASE_URI: Final = "https://eviction-prevention.invalid/schemas/json/"
"""Base of the schemas' `$id`s; the reserved `.invalid` domain (RFC 2606) never resolves: names only."""

SEQUENCE_DIGITS: Final = 20
MAX_SEQUENCE: Final = 10**SEQUENCE_DIGITS - 1

UUID_PATTERN: Final = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
OIN_PATTERN: Final = r"^[0-9]{20}$"
SERVICE_PATTERN: Final = r"^[a-z0-9][a-z0-9-]*$"
EVENT_NAME_PATTERN: Final = r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$"
SOURCE_PATTERN: Final = r"^urn:nld:oin:[0-9]{20}:systeem:[a-z0-9][a-z0-9-]*$"
TYPE_PATTERN: Final = r"^nl\.eviction-prevention\.[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*(\.v([2-9]|[1-9][0-9]+))?$"
DATASCHEMA_PATTERN: Final = (
    r"^https://eviction-prevention\.invalid/schemas/json/events/"
    r"[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*\.v[1-9][0-9]*\.schema\.json$"
)
SEQUENCE_PATTERN: Final = r"^[0-9]{20}$"
# W3C Trace Context: version ff and all-zero trace or parent ids are invalid.
TRACEPARENT_PATTERN: Final = r"^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$"

_VERSION_SUFFIX = re.compile(r"^(?P<name>.+)\.v(?P<version>[1-9][0-9]*)$")


class CloudEvent(BaseModel):
    """One event: CloudEvents 1.0 context attributes (NL GOV profile) with the `sequence` and `traceparent`
    extensions, and the event's `data`, whose schema `dataschema` names (see `registry.validate_event`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, regex_engine="python-re")

    specversion: Literal["1.0"] = SPEC_VERSION
    id: Annotated[str, Field(pattern=UUID_PATTERN, description="A UUID, unique per source.")]
    source: Annotated[
        str,
        Field(max_length=120, pattern=SOURCE_PATTERN, description="urn:nld:oin:<OIN>:systeem:<service>"),
    ]
    type: Annotated[str, Field(max_length=120, pattern=TYPE_PATTERN, description="nl.eviction-prevention.<event>")]
    subject: Annotated[
        str,
        Field(pattern=UUID_PATTERN, description="The pseudonymous case id; never a BSN or a name."),
    ]
    time: Annotated[
        datetime,
        Field(strict=True, description="When the change was committed, RFC 3339 in UTC."),
    ]
    datacontenttype: Literal["application/json"] = DATA_CONTENT_TYPE
    dataschema: Annotated[str, Field(pattern=DATASCHEMA_PATTERN, description="$id of the data's JSON Schema.")]
    sequence: Annotated[
        str,
        Field(pattern=SEQUENCE_PATTERN, description="Per case strictly increasing; 20 zero-padded digits."),
    ]
    traceparent: Annotated[str | None, Field(pattern=TRACEPARENT_PATTERN)] = None
    data: dict[str, Any]

    @field_validator("time")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError("time must carry a timezone (the platform writes UTC)")
        return value.astimezone(UTC)

    @field_serializer("time", when_used="json")
    def _rfc3339(self, value: datetime) -> str:
        return value.isoformat().replace("+00:00", "Z")

    @property
    def sequence_number(self) -> int:
        """The sequence as a number."""
        return int(self.sequence)

    @property
    def event_name(self) -> str:
        """The catalogue name of the type, without prefix or version suffix (e.g. `case.opened`)."""
        return parse_event_type(self.type)[0]

    @property
    def event_version(self) -> int:
        """The version of the type: 1, or N for a type with a `.vN` suffix."""
        return parse_event_type(self.type)[1]

    def to_json_bytes(self) -> bytes:
        """The Kafka record value in structured mode (content type application/cloudevents+json)."""
        return self.model_dump_json(exclude_none=True).encode()

    def to_json_dict(self) -> dict[str, Any]:
        """The event as the JSON object that `to_json_bytes` writes."""
        return self.model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_json_bytes(cls, value: bytes | str) -> Self:
        """Read a structured-mode record value; pydantic's ValidationError when it is no valid envelope."""
        return cls.model_validate_json(value)


def source_urn(oin: str, service: str) -> str:
    """The `source` of a service's events: `urn:nld:oin:<OIN>:systeem:<service>`."""
    if not re.fullmatch(OIN_PATTERN, oin):
        raise ValueError(f"oin must be the municipality's OIN of 20 digits, got {oin!r}")
    if not re.fullmatch(SERVICE_PATTERN, service):
        raise ValueError(f"service must be lowercase letters, digits and hyphens (e.g. case-api), got {service!r}")
    return f"urn:nld:oin:{oin}:systeem:{service}"


def _check_name(event_name: str, version: int) -> None:
    if not re.fullmatch(EVENT_NAME_PATTERN, event_name):
        raise ValueError(f"event name must look like 'case.opened', got {event_name!r}")
    if version < 1:
        raise ValueError(f"version must be 1 or more, got {version}")


def event_type(name: str, version: int = 1) -> str:
    """The CloudEvents type of an event: `nl.eviction-prevention.<name>`, with `.v<N>` from version 2 on."""
    _check_name(name, version)
    return f"{TYPE_PREFIX}{name}" if version == 1 else f"{TYPE_PREFIX}{name}.v{version}"


def parse_event_type(type_: str) -> tuple[str, int]:
    """The catalogue name and version of a CloudEvents type; the inverse of `event_type`."""
    if not re.fullmatch(TYPE_PATTERN, type_):
        raise ValueError(f"not an event type of this platform: {type_!r}")
    rest = type_.removeprefix(TYPE_PREFIX)
    match = _VERSION_SUFFIX.fullmatch(rest)
    if match is None:
        return rest, 1
    return match["name"], int(match["version"])


def dataschema_uri(event_name: str, version: int = 1) -> str:
    """The URI (and JSON Schema `$id`) of the schema of an event's data, for one version."""
    _check_name(event_name, version)
    return f"{SCHEMA_BASE_URI}events/{event_name}.v{version}.schema.json"


def format_sequence(sequence: int) -> str:
    """A sequence number as the 20-digit zero-padded string that CloudEvents extension attributes need."""
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence must be between 0 and {MAX_SEQUENCE}, got {sequence}")
    return f"{sequence:0{SEQUENCE_DIGITS}d}"


def make_event(
    *,
    event: str,
    source_service: str,
    oin: str,
    subject: str,
    sequence: int,
    data: dict[str, Any],
    time: datetime,
    traceparent: str | None = None,
    event_id: UUID | None = None,
    version: int = 1,
) -> CloudEvent:
    """Build the envelope of one event. `time` is when the change was committed (a timezone-aware datetime,
    stored in UTC). The data is not checked here: producers call `registry.validate_data` first."""
    if event not in EVENT_NAMES:
        raise ValueError(f"unknown event {event!r}; the catalogue has: {', '.join(EVENT_NAMES)}")
    return CloudEvent(
        id=str(event_id or uuid4()),
        source=source_urn(oin, source_service),
        type=event_type(event, version),
        subject=subject,
        time=time,
        dataschema=dataschema_uri(event, version),
        sequence=format_sequence(sequence),
        traceparent=traceparent,
        data=data,
    )
