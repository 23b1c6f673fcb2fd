"""The JSON Schemas of the envelope and of each event's data, and the golden samples.

Validation is offline: every `$ref` (to `common.schema.json`) resolves from the files shipped in this package
through a `referencing.Registry`, never over the network. Formats are checked (uuid, date, date-time, uri).
Error messages name the JSON path and the rule, never the offending value: it may be the personal data that
the check exists to keep out, and errors end up in logs and dead-letter headers (R15).
"""

import copy
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Final

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from eviction_schemas.catalogue import EVENT_NAMES
from eviction_schemas.envelope import EVENT_NAME_PATTERN, CloudEvent, dataschema_uri, parse_event_type

__all__ = [
    "EVENT_NAMES",
    "ContractError",
    "iter_samples",
    "load_envelope_schema",
    "load_sample",
    "load_schema",
    "schema_registry",
    "validate_cloud_event",
    "validate_data",
    "validate_event",
]

_PACKAGE: Final = files("eviction_schemas")
_JSON: Final = _PACKAGE / "json"
_SAMPLES: Final = _PACKAGE / "samples"

# Keywords whose messages name properties rather than repeating the value.
_MESSAGES_NAME_KEYS: Final = frozenset({"required", "additionalProperties", "dependentRequired"})
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")


class ContractError(ValueError):
    """An event, or its data, breaks the contract. `path` is the JSON path of the first problem ($.data.x)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _read_json(resource: Traversable) -> Any:
    return json.loads(resource.read_text(encoding="utf-8"))


def _schema_file(event_name: str, version: int) -> Traversable:
    # The name becomes a file name: only catalogue-shaped names get that far.
    if not re.fullmatch(EVENT_NAME_PATTERN, event_name) or version < 1:
        raise ValueError(f"no schema for event {event_name!r} version {version}")
    return _JSON / "events" / f"{event_name}.v{version}.schema.json"


def _has_schema(event_name: str, version: int) -> bool:
    try:
        return _schema_file(event_name, version).is_file()
    except ValueError:
        return False


@cache
def _schema(event_name: str, version: int) -> dict[str, Any]:
    resource = _schema_file(event_name, version)
    if not resource.is_file():
        known = f"known events: {', '.join(EVENT_NAMES)}"
        raise ValueError(f"no schema for event {event_name!r} version {version}; {known}")
    schema: dict[str, Any] = _read_json(resource)
    return schema


@cache
def _envelope_schema() -> dict[str, Any]:
    schema: dict[str, Any] = _read_json(_JSON / "envelope.schema.json")
    return schema


def _all_schemas() -> Iterator[dict[str, Any]]:
    yield _read_json(_JSON / "common.schema.json")
    yield _envelope_schema()
    for resource in sorted((_JSON / "events").iterdir(), key=lambda r: r.name):
        if resource.name.endswith(".schema.json"):
            yield _read_json(resource)


@cache
def schema_registry() -> Registry[Any]:
    """Every schema of this package, by `$id`, for offline `$ref` resolution."""
    resources = [
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012)) for schema in _all_schemas()
    ]
    return Registry().with_resources(resources).crawl()


def _is_rfc3339(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _RFC3339.fullmatch(instance):
        return False
    datetime.fromisoformat(instance.upper())
    return True


def _is_absolute_uri(instance: object) -> bool:
    return not isinstance(instance, str) or bool(_ABSOLUTE_URI.fullmatch(instance))


@cache
def _format_checker() -> Any:
    # jsonschema checks date-time and uri only with optional packages; these two need none.
    checker = FormatChecker()
    checker.checks("date-time", raises=ValueError)(_is_rfc3339)
    checker.checks("uri")(_is_absolute_uri)
    return checker


def _validator(schema: dict[str, Any]) -> Any:
    return Draft202012Validator(schema, registry=schema_registry(), format_checker=_format_checker())


@cache
def _envelope_validator() -> Any:
    return _validator(_envelope_schema())


@cache
def _data_validator(event_name: str, version: int) -> Any:
    return _validator(_schema(event_name, version))


def _json_path(prefix: str, parts: Iterator[Any]) -> str:
    path = prefix
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _problem(error: Any) -> str:
    message: str = error.message
    if error.validator in _MESSAGES_NAME_KEYS:
        return message
    shown = repr(error.instance)
    if message.startswith(shown):
        return "value" + message[len(shown) :]
    return f"value fails the '{error.validator}' rule"


def _check(validator: Any, instance: object, prefix: str) -> None:
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise ContractError(_json_path(prefix, iter(error.absolute_path)), _problem(error))


def load_schema(event_name: str, version: int = 1) -> dict[str, Any]:
    """The JSON Schema of an event's data (a copy); ValueError for an unknown event or version."""
    return copy.deepcopy(_schema(event_name, version))


def load_envelope_schema() -> dict[str, Any]:
    """The JSON Schema of the envelope (a copy)."""
    return copy.deepcopy(_envelope_schema())


def validate_data(event_name: str, data: object, version: int = 1) -> None:
    """Check an event's data against its schema; raises ContractError naming the path ($.data...)."""
    _check(_data_validator(event_name, version), data, "$.data")


def validate_event(envelope: Mapping[str, Any]) -> None:
    """Check a whole event (the JSON object of a structured-mode record): the envelope, that `type` is in the
    catalogue and `dataschema` names its schema, and the data. Raises ContractError at the first problem."""
    if not isinstance(envelope, Mapping):
        raise ContractError("$", "an event must be a JSON object")
    _check(_envelope_validator(), envelope, "$")
    name, version = parse_event_type(envelope["type"])
    if name not in EVENT_NAMES or not _has_schema(name, version):
        raise ContractError("$.type", f"unknown event type {envelope['type']!r}: no schema in the catalogue")
    expected = dataschema_uri(name, version)
    if envelope["dataschema"] != expected:
        raise ContractError("$.dataschema", f"must be {expected} for type {envelope['type']}")
    validate_data(name, envelope["data"], version)


def validate_cloud_event(event: CloudEvent) -> None:
    """`validate_event` for an envelope built with `make_event` or read with `CloudEvent.from_json_bytes`."""
    validate_event(event.to_json_dict())


def _sample_file(event_name: str, version: int) -> Traversable:
    if event_name not in EVENT_NAMES or version < 1:
        raise ValueError(f"no sample for event {event_name!r} version {version}")
    return _SAMPLES / f"{event_name}.v{version}.json"


def load_sample(event_name: str, version: int = 1) -> dict[str, Any]:
    """The golden sample of an event type: a full envelope with made-up values (a fresh copy)."""
    resource = _sample_file(event_name, version)
    if not resource.is_file():
        raise ValueError(f"no sample for event {event_name!r} version {version}")
    sample: dict[str, Any] = _read_json(resource)
    return sample


def iter_samples() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every golden sample as (event name, envelope), in catalogue order, version 1."""
    for name in EVENT_NAMES:
        yield name, load_sample(name)
