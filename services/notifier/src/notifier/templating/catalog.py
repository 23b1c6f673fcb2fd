"""The template files, their versions, and rendering one for a household.

A template is templates/<moment>/<channel>.<language>.j2. Its first line is a Jinja comment carrying its version
(`{# version: 3 ... -#}`); the first rendered line is the subject, the rest the body. A new language is a new file.
"""

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from notifier.templating.context import Household, Sender

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("nl", "fy", "en")
CHANNELS = ("email", "sms", "letter")
_NAME = re.compile(r"^(?P<channel>[a-z_]+)\.(?P<language>[a-z]{2,3})\.j2$")
_VERSION = re.compile(r"^\{#-?\s*version:\s*(?P<version>[\w.-]+)")

MONTHS = {
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "fy": "jannewaris febrewaris maart april maaie juny july augustus septimber oktober novimber desimber",
    "en": "January February March April May June July August September October November December",
}

ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    undefined=StrictUndefined,  # a missing placeholder is an error, never an empty gap in a letter
    autoescape=False,  # noqa: S701 - plain-text templates; HTML templates would get their own environment
    keep_trailing_newline=True,
    auto_reload=False,  # templates ship with the code: no look at the file on every render
)


class UnknownTemplate(LookupError):
    """No template file for this moment, channel and language."""


@dataclass(frozen=True)
class TemplateFile:
    moment: str
    channel: str
    language: str
    version: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.moment}.{self.channel}"


@dataclass(frozen=True)
class RenderedMessage:
    template_id: str
    language: str
    version: str
    subject: str
    body: str


@cache
def catalog() -> tuple[TemplateFile, ...]:
    """Every template file, read once per process (templates ship with the code)."""
    found = []
    for moment_dir in sorted(p for p in TEMPLATE_DIR.iterdir() if p.is_dir()):
        for path in sorted(moment_dir.glob("*.j2")):
            match = _NAME.match(path.name)
            if match is None:
                raise ValueError(f"{path}: name it <channel>.<language>.j2")
            found.append(TemplateFile(moment_dir.name, match["channel"], match["language"], version_of(path), path))
    return tuple(found)


def available_languages(moment: str, channel: str) -> frozenset[str]:
    """The languages moment `moment` has a template in for `channel`."""
    return frozenset(t.language for t in catalog() if t.moment == moment and t.channel == channel)


def version_of(path: Path) -> str:
    first_line = path.read_text(encoding="utf-8").partition("\n")[0]
    match = _VERSION.match(first_line)
    if match is None:
        raise ValueError(f"{path}: the first line must be a comment `{{# version: N -#}}`")
    return match["version"]


def find(template_id: str, language: str) -> TemplateFile:
    for template in catalog():
        if template.id == template_id and template.language == language:
            return template
    raise UnknownTemplate(f"no template {template_id} in language {language!r}")


def long_date(day: date, language: str) -> str:
    month = MONTHS.get(language, MONTHS["en"]).split()[day.month - 1]
    return f"{day.day} {month} {day.year}"


def placeholders(*, household: Household, sender: Sender, reference: str, language: str) -> dict[str, object]:
    """The names a template may use. A fact the case does not have (no eviction date yet) is left out, so a
    template that needs it fails to render (StrictUndefined) instead of printing an empty gap."""
    names: dict[str, object] = {
        "first_name": household.first_name,
        "full_name": household.full_name,
        "address_lines": household.address_lines,
        "reference": reference,
        "offer_oco": household.offer_oco,
        "oco_provider": "MEE Noord",
        "legal_aid": "Het Juridisch Loket",
        "legal_aid_site": "juridischloket.nl",
        "municipality_name": sender.name,
        "municipality_phone": sender.phone,
    }
    for name, day in (
        ("eviction_date", household.eviction_date),
        ("retention_end", household.retention_end),
        ("objection_end", household.objection_end),
    ):
        if day is not None:
            names[name] = long_date(day, language)
    for name, text in (
        ("storage_place", household.storage_place),
        ("storage_reference", household.storage_reference),
        ("housing_address", household.housing_address),
    ):
        if text:
            names[name] = text
    # Facts of the event a moment's template may branch on (M9: granted; M8: belongings_message), never personal
    # data.
    names.update(household.extra)
    return names


def reference_of(case_id: str) -> str:
    """The reference a household quotes on the phone: short, and without the rest of the case id."""
    return case_id[:8].upper()


def render(template_id: str, *, language: str, household: Household, sender: Sender, reference: str) -> RenderedMessage:
    names = placeholders(household=household, sender=sender, reference=reference, language=language)
    return render_names(template_id, language=language, names=names)


def render_names(template_id: str, *, language: str, names: dict[str, object]) -> RenderedMessage:
    """Render with these names (placeholders() of a household, or a preview's marked placeholders)."""
    template = find(template_id, language)
    text = ENVIRONMENT.get_template(f"{template.moment}/{template.path.name}").render(names)
    subject, _, body = text.partition("\n")
    return RenderedMessage(template_id, language, template.version, subject.strip(), body.strip("\n") + "\n")
