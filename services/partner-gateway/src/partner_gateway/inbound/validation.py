"""The JSON Schema (draft 2020-12) of the envelope and of each message type's `data`, in inbound/schemas/."""

import json
import re
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from partner_gateway.inbound.types import ALL_MESSAGE_TYPES
from service_kit.errors import InvalidInput, Unprocessable, json_pointer

SCHEMA_DIR = Path(__file__).parent / "schemas"


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def is_instant(value: object) -> bool:
    """An RFC 3339 date-time that is a real instant, storable in UTC: no month 13, 30 February, hour 25, leap
    second (:60), offset beyond ±23:59, nor a year 0001 or 9999 that its offset takes out of the calendar."""
    if not isinstance(value, str):
        return True  # the schema's "type" refuses it
    if _DATE_TIME.fullmatch(value) is None:
        return False
    try:
        parsed = datetime.fromisoformat(value)
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return parsed.tzinfo is not None


def is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if _DATE.fullmatch(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def format_checker() -> FormatChecker:
    """The formats of the schemas, checked here rather than by optional packages that jsonschema may lack (without
    them "date-time" is not checked at all and a month 13 reached the database as a 500)."""
    checker = FormatChecker()
    checker.checkers["date-time"] = (is_instant, ())
    checker.checkers["date"] = (is_date, ())
    return checker


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=format_checker())


def _parts(error: ValidationError, prefix: str) -> list[str | int]:
    """The path to the field to fix: the missing or unexpected property itself, not its parent."""
    parts: list[str | int] = [prefix] if prefix else []
    parts.extend(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        parts.extend(missing[:1])
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(name for name in error.instance if name not in allowed)
        parts.extend(extra[:1])
    return parts


def field_of(error: ValidationError, prefix: str) -> str:
    """The dotted path of the field to fix (`data.members[0].name`)."""
    out = ""
    for part in _parts(error, prefix):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _message(error: ValidationError) -> str:
    if error.validator == "required":
        return "is required"
    if error.validator == "additionalProperties":
        return "is not a field of this message"
    if error.validator in {"format", "pattern"} and "format" in error.schema:
        return f"must be a real {error.schema['format']} (RFC 3339)"
    if error.validator == "pattern":
        return "does not have the expected form"  # the value itself may be personal data: never repeated
    if error.validator == "enum":
        return "must be one of: " + ", ".join(map(str, error.validator_value))
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    if error.validator in {"minLength", "maxLength", "minimum", "maximum"}:
        return f"violates {error.validator} {error.validator_value}"
    return f"fails the schema's {error.validator} rule"


def problems(name: str, instance: Any, prefix: str = "") -> list[dict[str, str]]:
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    return [
        {
            "field": field_of(error, prefix),
            "message": _message(error),
            "type": str(error.validator),
            "pointer": json_pointer(_parts(error, prefix)),
        }
        for error in errors
    ]


def _refuse(found: list[dict[str, str]], refusal: type[InvalidInput | Unprocessable] = InvalidInput) -> None:
    if found:
        first = found[0]
        raise refusal(f"{first['field']}: {first['message']}", field=first["field"], errors=found)


def validate_envelope(body: Any) -> None:
    """{type, reference, occurred_at, data}; 400 naming the first field to fix (every field in `errors`)."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object {type, reference, occurred_at, data}", field="")
    _refuse(problems("envelope", body))
    if body["type"] not in ALL_MESSAGE_TYPES:
        raise InvalidInput(
            f"type: {body['type']!r} is not a partner message type", field="type", allowed=sorted(ALL_MESSAGE_TYPES)
        )


def validate_data(message_type: str, data: Any) -> None:
    """The `data` of a known message type against its schema; 400 naming the first field to fix."""
    _refuse(problems(message_type, data, prefix="data"))


# The household facts a housing corporation knows and a utility does not (issue 10), on arrears.reported (and in
# a signal file's columns of the same names); forwarded to case-api only, never on Kafka or in a webhook.
COMPOSITION_FIELDS = ("minors_count", "birth_years")


def composition_problem(data: dict[str, Any], *, kind_knows_it: bool) -> tuple[str, str] | None:
    """(field, message) of what is wrong with the household composition of arrears.reported's data, or None;
    the schema has checked each field's form already."""
    sent = [name for name in COMPOSITION_FIELDS if data.get(name) is not None]
    if not sent:
        return None
    if not kind_knows_it:
        return sent[0], "only a housing corporation sends the household's composition"
    if len(sent) == 2:
        return "birth_years", "send minors_count or birth_years, not both"
    signal_year = int(str(data.get("signal_date", "9999"))[:4])
    for index, year in enumerate(data.get("birth_years") or []):
        if year > signal_year:
            return f"birth_years[{index}]", "lies after the year of signal_date"
    return None


def validate_household_facts(data: dict[str, Any], *, kind_knows_it: bool) -> None:
    """422 naming the field of arrears.reported's household composition that a partner may not or cannot send."""
    problem = composition_problem(data, kind_knows_it=kind_knows_it)
    if problem is not None:
        field = f"data.{problem[0]}"
        path = [int(part) if part.isdigit() else part for part in re.findall(r"[^.\[\]]+", field)]
        found = {"field": field, "message": problem[1], "type": "household_facts", "pointer": json_pointer(path)}
        _refuse([found], Unprocessable)
