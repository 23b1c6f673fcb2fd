"""Reading a signal file (contract.md, "Batch"): UTF-8 with a header row, `;` or `,` separated, one signal a row.

Each row is checked on its own, column by column, by compiled rules that mirror `inbound/schemas/
arrears.reported.json` (a JSON Schema validator per row would take most of the one-minute budget for 100,000
rows); a good row becomes the `data` of an `arrears.reported` message. Errors name the column and what is wrong,
never the value: the values are tenants' personal data.

A NUL character anywhere refuses the whole file, naming its row and column (a NUL is what a UTF-16 export looks
like read as UTF-8; Python's csv module reads it as text). A cell starting with `=`, `+`, `-`, `@`, a tab or a
carriage return is refused in its row (OWASP, CSV injection: a spreadsheet runs it as a formula when a caseworker
opens an export), except in `mobile`, whose own pattern (+316 and digits) leaves no room for a formula; the
reference must match the message envelope's reference pattern.
"""

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from partner_gateway.inbound.validation import COMPOSITION_FIELDS, composition_problem

COLUMNS = (
    "reference",
    "initials",
    "surname_prefix",
    "surname",
    "street",
    "house_number",
    "house_number_suffix",
    "postcode",
    "city",
    "email",
    "mobile",
    "arrears_amount",
    "arrears_since",
    "signal_date",
    "crisis",
    "consent_given",
)
# A housing corporation's household composition (issue 10): columns a file may have, not must have; a row fills
# one of them or neither (as arrears.reported's minors_count and birth_years). Birth years are separated by spaces.
COMPOSITION_COLUMNS = COMPOSITION_FIELDS
OPTIONAL = frozenset({"surname_prefix", "house_number_suffix", "email", "mobile", "crisis", *COMPOSITION_COLUMNS})
MAX_MEMBERS = 20

# The envelope's reference pattern (inbound/schemas/envelope.json): a signal file's row is a message too.
REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/ -]*$")
# What a spreadsheet takes for the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_FREE = frozenset({"mobile"})  # +316 and 8 digits: its pattern leaves no room for a formula
NUL = "\x00"
POSTCODE = re.compile(r"^([1-9][0-9]{3}) ?([A-Za-z]{2})$")
HOUSE_NUMBER = re.compile(r"^[0-9]{1,10}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MOBILE = re.compile(r"^(\+316|06)[0-9]{8}$")
# Euros with a decimal comma (Dutch exports) or point, at most two decimals, no thousands separators.
AMOUNT = re.compile(r"^([0-9]{1,7})(?:[.,]([0-9]{1,2}))?$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WHOLE_NUMBER = re.compile(r"^[0-9]{1,2}$")
YEAR = re.compile(r"^[0-9]{4}$")
YES_NO = {"yes": True, "no": False}
MAX_LENGTH = {
    "reference": 100,
    "initials": 20,
    "surname_prefix": 20,
    "surname": 200,
    "street": 200,
    "house_number_suffix": 10,
    "city": 100,
    "email": 254,
}


class BadHeader(ValueError):
    """The header row is not the contract's list of columns; `column` names the first one to fix."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column


class BadContent(ValueError):
    """The file holds what no row may (a NUL character); `row` and `column` say where, the header being row 1."""

    def __init__(self, message: str, *, row: int, column: str) -> None:
        super().__init__(message)
        self.row = row
        self.column = column


def refuse_nul(number: int, values: list[str], header: list[str]) -> None:
    """BadContent naming the first cell of the row that holds a NUL character."""
    for position, value in enumerate(values):
        if NUL in value:
            column = header[position] if position < len(header) and header[position] else f"field {position + 1}"
            raise BadContent(
                f"row {number}, column {column} holds a NUL character: send the file as UTF-8 text (a UTF-16 export "
                "reads like this)",
                row=number,
                column=column,
            )


@dataclass
class ParsedRow:
    row: int  # the header is row 1
    reference: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # the arrears.reported data of a good row
    consent_given: bool = False
    errors: list[dict[str, str]] = field(default_factory=list)  # [{"column", "message"}]


def delimiter_of(header_line: str) -> str:
    """`;` or `,`, whichever the header row uses (the column names contain neither)."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def read_rows(text: str, *, composition_allowed: bool = True) -> Iterator[ParsedRow]:
    """Every data row of the file, checked; raises BadHeader when the header row is not the contract's. A row that
    fills a composition column is rejected unless `composition_allowed` (a housing corporation's file)."""
    text = text.removeprefix("\ufeff")  # a byte-order mark, as spreadsheet programs write
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(first_line), quotechar='"')
    raw_header = next(reader, [])
    refuse_nul(1, raw_header, [])
    header = [name.strip().lower() for name in raw_header]
    if not any(header):
        raise BadHeader("the file has no header row", column="")
    for name in COLUMNS:
        if name not in header:
            raise BadHeader(f"the header row has no column {name}", column=name)
    unknown = [name for name in header if name not in COLUMNS and name not in COMPOSITION_COLUMNS]
    if unknown:
        raise BadHeader(f"the header row has a column that is not in the contract: {unknown[0]}", column=unknown[0])
    if len(set(header)) != len(header):
        twice = next(name for name in header if header.count(name) > 1)
        raise BadHeader(f"the header row names column {twice} twice", column=twice)
    positions = [(name, header.index(name)) for name in (*COLUMNS, *COMPOSITION_COLUMNS) if name in header]
    seen: dict[str, int] = {}
    for number, values in enumerate(reader, start=2):
        refuse_nul(number, values, header)
        if not any(value.strip() for value in values):
            continue  # blank lines, e.g. at the end
        parsed = check_row(number, values, positions, composition_allowed=composition_allowed)
        if not parsed.errors:
            earlier = seen.setdefault(parsed.reference, number)
            if earlier != number:
                parsed.errors.append({"column": "reference", "message": f"repeats the reference of row {earlier}"})
        yield parsed


def check_row(
    number: int, values: list[str], positions: list[tuple[str, int]], *, composition_allowed: bool = True
) -> ParsedRow:
    parsed = ParsedRow(row=number)
    errors = parsed.errors
    cells: dict[str, str] = {}
    for name, position in positions:
        if position >= len(values):
            errors.append({"column": name, "message": "is missing: the row has fewer fields than the header"})
            continue
        if name not in FORMULA_FREE and starts_a_formula(values[position]):
            errors.append({"column": name, "message": FORMULA_MESSAGE})
            continue
        cells[name] = values[position].strip()
    if len(values) > len(positions):
        errors.append({"column": "", "message": "the row has more fields than the header"})
    for name, value in cells.items():
        if not value:
            if name not in OPTIONAL:
                errors.append({"column": name, "message": "is required"})
            continue
        check = CHECKS.get(name)
        result = check(value) if check else value
        if isinstance(result, Problem):
            errors.append({"column": name, "message": result.message})
            continue
        limit = MAX_LENGTH.get(name)
        if limit is not None and len(value) > limit:
            errors.append({"column": name, "message": f"is longer than {limit} characters"})
            continue
        cells[name] = result
    if errors:
        return parsed
    if cells["arrears_since"] > cells["signal_date"]:
        errors.append({"column": "arrears_since", "message": "is after signal_date"})
        return parsed
    parsed.reference = cells["reference"]
    parsed.consent_given = YES_NO[cells["consent_given"]]
    data: dict[str, Any] = {
        name: cells[name] for name in COLUMNS[1:-2] if cells.get(name) or name not in OPTIONAL
    }  # the optional text columns only when filled, as an inbound message would carry them
    data["crisis"] = YES_NO[cells["crisis"]] if cells.get("crisis") else False
    data.update({name: cells[name] for name in COMPOSITION_COLUMNS if cells.get(name)})
    problem = composition_problem(data, kind_knows_it=composition_allowed)
    if problem is not None:
        errors.append({"column": problem[0].split("[", 1)[0], "message": problem[1]})
        return parsed
    parsed.data = data
    return parsed


FORMULA_MESSAGE = (
    "starts with =, +, -, @, a tab or a carriage return, which a spreadsheet runs as a formula (CSV injection): "
    "remove the character"
)


def starts_a_formula(raw: str) -> bool:
    """A tab or carriage return first, or =, +, -, @ first after leading spaces."""
    return raw.startswith(FORMULA_STARTS) or raw.lstrip(" ").startswith(FORMULA_STARTS)


@dataclass(frozen=True)
class Problem:
    message: str


def _postcode(value: str) -> str | Problem:
    match = POSTCODE.match(value)
    if match is None:
        return Problem("must be a Dutch postcode, four digits and two letters (1234 AB)")
    return f"{match.group(1)} {match.group(2).upper()}"


def _amount(value: str) -> str | Problem:
    match = AMOUNT.match(value)
    if match is None:
        return Problem("must be an amount in euros such as 850,00 or 850.00 (no thousands separators)")
    euros, cents = match.group(1), match.group(2) or "00"
    return f"{int(euros)}.{cents.ljust(2, '0')}"


def _date(value: str) -> str | Problem:
    if ISO_DATE.match(value) is None:
        return Problem("must be a date YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        return Problem("is not a date of the calendar (YYYY-MM-DD)")
    return value


def _pattern(pattern: re.Pattern[str], message: str, normalise: Callable[[str], str] = str) -> Callable[..., Any]:
    def check(value: str) -> str | Problem:
        value = normalise(value)
        return value if pattern.match(value) else Problem(message)

    return check


def _yes_no(value: str) -> str | Problem:
    lowered = value.lower()
    return lowered if lowered in YES_NO else Problem("must be yes or no")


def _minors_count(value: str) -> int | Problem:
    if WHOLE_NUMBER.match(value) is None or int(value) > MAX_MEMBERS:
        return Problem(f"must be a whole number from 0 to {MAX_MEMBERS}")
    return int(value)


def _birth_years(value: str) -> list[int] | Problem:
    years = value.split()
    if len(years) > MAX_MEMBERS or not all(YEAR.match(year) and 1900 <= int(year) <= 2100 for year in years):
        return Problem(f"must be up to {MAX_MEMBERS} years (1900 to 2100) separated by spaces, one a member")
    return [int(year) for year in years]


CHECKS: dict[str, Callable[[str], Any]] = {
    "reference": _pattern(
        REFERENCE, "must start with a letter or digit and hold only letters, digits, spaces and . _ : / -"
    ),
    "postcode": _postcode,
    "house_number": _pattern(HOUSE_NUMBER, "must be a whole number (put letters in house_number_suffix)"),
    "email": _pattern(EMAIL, "must be an e-mail address"),
    "mobile": _pattern(
        MOBILE, "must be a Dutch mobile number (06 or +316 and 8 digits)", lambda v: re.sub(r"[\s-]", "", v)
    ),
    "arrears_amount": _amount,
    "arrears_since": _date,
    "signal_date": _date,
    "crisis": _yes_no,
    "consent_given": _yes_no,
    "minors_count": _minors_count,
    "birth_years": _birth_years,
}
