"""Every template renders in every language for a made-up household, and SMS stay short and discreet.

Facts of a case are optional: placeholders() leaves out what the case does not have. Each moment may only rely on
the facts it guarantees (MOMENT_FACTS); every template must also render for such a minimal household.
"""

import re
from dataclasses import replace
from datetime import date

import pytest

from notifier.templating.catalog import CHANNELS, LANGUAGES, RenderedMessage, TemplateFile, catalog, render
from notifier.templating.context import PLACEHOLDER_HOUSEHOLD, Household, Sender

SENDER = Sender(name="Gemeente Proefdam", phone="14 0511")
# Words an SMS must not hold (a phone screen is seen by others): debts, amounts, court papers.
SMS_FORBIDDEN = re.compile(
    r"schuld|skuld|debt|vonnis|fonnis|judg(e)?ment|dagvaarding|summons|achterstand|efterstân|arrears|€|\beur\b",
    re.IGNORECASE,
)
AMOUNT = re.compile(r"€\s*\d|\d\s*€|\d+[.,]\d{2}\s*(euro|eur)\b", re.IGNORECASE)

# The household with none of the optional facts of a case.
BARE_HOUSEHOLD = replace(
    PLACEHOLDER_HOUSEHOLD,
    eviction_date=None,
    storage_place=None,
    retention_end=None,
    housing_address=None,
    objection_end=None,
    extra={},
)
# The facts each moment guarantees; placeholders() may leave out everything else.
MOMENT_FACTS: dict[str, dict[str, object]] = {
    "M1": {},
    "M2": {},
    "M3": {},
    "M4": {"eviction_date": PLACEHOLDER_HOUSEHOLD.eviction_date},
    "M5": {"eviction_date": PLACEHOLDER_HOUSEHOLD.eviction_date},
    "M6": {},
    "M7": {},
    "M8": {"retention_end": PLACEHOLDER_HOUSEHOLD.retention_end},
    "M9": {},
}
# M9 branches on the decision, which every real send carries.
M9_DECISIONS = ({"granted": False}, {"granted": True})
# Per language: the word that says an M9 application was refused, and the fallback objection period.
REFUSED = {"nl": "afgewezen", "fy": "ôfwiisd", "en": "refused"}
SIX_WEEKS = {"nl": "6 weken", "fy": "6 wiken", "en": "6 weeks"}


def rendered(template: TemplateFile, household: Household = PLACEHOLDER_HOUSEHOLD) -> RenderedMessage:
    return render(template.id, language=template.language, household=household, sender=SENDER, reference="AB12CD34")


def minimal_households(moment: str) -> list[Household]:
    """The households with only what `moment` guarantees (for M9: one per decision)."""
    bare = replace(BARE_HOUSEHOLD, **MOMENT_FACTS[moment])
    if moment == "M9":
        return [replace(bare, extra=decision) for decision in M9_DECISIONS]
    return [bare]


def text_of(message: RenderedMessage) -> str:
    return message.subject + "\n" + message.body


def assert_complete(template: TemplateFile, message: RenderedMessage) -> None:
    """The rules every message keeps, whatever facts it was rendered with."""
    assert message.subject
    assert message.body.strip()
    assert message.version == template.version
    assert message.version.isdigit()
    assert int(message.version) >= 1
    text = text_of(message)
    assert SENDER.name in text, "every message says who sends it"
    assert text.count(SENDER.phone) == 1, "every message gives one phone number"
    assert "{{" not in text
    assert "{%" not in text
    assert not re.search(r"\bNone\b", text), "a missing fact never shows as None"
    assert "\n\n\n" not in text, "a left-out fact leaves no gap"
    if template.channel == "letter":
        assert "AB12CD34" in text, "letters carry the reference"


TEMPLATES = catalog()
SMS_TEMPLATES = [t for t in TEMPLATES if t.channel == "sms"]
M9_TEMPLATES = [t for t in TEMPLATES if t.moment == "M9"]


def template_id(template: TemplateFile) -> str:
    return f"{template.id}.{template.language}"


@pytest.mark.parametrize("template", TEMPLATES, ids=template_id)
def test_every_template_renders_and_says_who_what_and_which_number(template: TemplateFile) -> None:
    assert_complete(template, rendered(template))  # StrictUndefined: a missing placeholder raises here


@pytest.mark.parametrize("template", TEMPLATES, ids=template_id)
def test_every_template_renders_with_only_the_facts_its_moment_guarantees(template: TemplateFile) -> None:
    for household in minimal_households(template.moment):
        assert_complete(template, rendered(template, household))


def test_every_moment_and_channel_exists_in_all_three_languages() -> None:
    by_id: dict[str, set[str]] = {}
    for template in TEMPLATES:
        assert template.channel in CHANNELS
        by_id.setdefault(template.id, set()).add(template.language)
    assert {moment.split(".")[0] for moment in by_id} == {f"M{n}" for n in range(1, 10)}
    assert {template_id: langs for template_id, langs in by_id.items() if langs != set(LANGUAGES)} == {}


def test_the_channels_of_each_moment_follow_the_spec() -> None:
    channels: dict[str, set[str]] = {}
    for template in TEMPLATES:
        channels.setdefault(template.moment, set()).add(template.channel)
    assert channels == {
        "M1": {"letter", "sms", "email"},
        "M2": {"sms", "email"},
        "M3": {"letter", "sms", "email"},
        "M4": {"letter", "sms", "email"},
        "M5": {"sms", "email"},
        "M6": {"letter", "email"},
        "M7": {"sms", "email", "letter"},  # the letter only to a recorded mail address
        "M8": {"sms", "email", "letter"},
        "M9": {"letter", "email"},
    }


@pytest.mark.parametrize("template", SMS_TEMPLATES, ids=template_id)
def test_an_sms_holds_no_amounts_debts_or_legal_detail_and_only_the_first_name(template: TemplateFile) -> None:
    for household in (PLACEHOLDER_HOUSEHOLD, *minimal_households(template.moment)):
        text = text_of(rendered(template, household))
        assert len(text) < 320
        assert not AMOUNT.search(text)
        assert not SMS_FORBIDDEN.search(text), SMS_FORBIDDEN.findall(text)
        assert PLACEHOLDER_HOUSEHOLD.first_name in text
        assert PLACEHOLDER_HOUSEHOLD.full_name not in text
        assert not any(line in text for line in PLACEHOLDER_HOUSEHOLD.address_lines)


def test_the_forbidden_words_check_catches_them() -> None:
    for text in ("uw schuld", "het vonnis", "de dagvaarding", "your debt", "the summons", "jo skuld", "€ 850"):
        assert SMS_FORBIDDEN.search(text) or AMOUNT.search(text), text


@pytest.mark.parametrize("template", M9_TEMPLATES, ids=template_id)
def test_a_refused_housing_decision_says_so_and_how_to_object(template: TemplateFile) -> None:
    refused = replace(PLACEHOLDER_HOUSEHOLD, extra={"granted": False})
    text = text_of(rendered(template, refused))
    assert REFUSED[template.language] in text
    assert PLACEHOLDER_HOUSEHOLD.housing_address not in text, "a refusal names no home"
    objection_end = re.compile(r"\b26 \w+ 2026\b")  # PLACEHOLDER_HOUSEHOLD.objection_end in any language
    assert objection_end.search(text)

    bare = text_of(rendered(template, replace(BARE_HOUSEHOLD, extra={"granted": False})))
    assert REFUSED[template.language] in bare
    assert SIX_WEEKS[template.language] in bare, "without an objection end date: the 6-week term"


@pytest.mark.parametrize("template", M9_TEMPLATES, ids=template_id)
def test_a_granted_housing_decision_names_the_address_when_known(template: TemplateFile) -> None:
    assert PLACEHOLDER_HOUSEHOLD.extra["granted"] is True
    text = text_of(rendered(template))
    assert PLACEHOLDER_HOUSEHOLD.housing_address in text
    assert REFUSED[template.language] not in text

    bare = text_of(rendered(template, replace(BARE_HOUSEHOLD, extra={"granted": True})))
    assert REFUSED[template.language] not in bare
    assert SIX_WEEKS[template.language] in bare


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.moment == "M7"], ids=template_id)
def test_after_an_eviction_the_storage_place_is_named_only_when_known(template: TemplateFile) -> None:
    known = replace(BARE_HOUSEHOLD, storage_place="Opslag Proefdam", retention_end=date(2026, 7, 14))
    text = text_of(rendered(template, known))
    if template.channel != "sms":  # an SMS names no place (a phone screen is seen by others)
        assert "Opslag Proefdam" in text
        assert "2026" in text
    assert "Opslag Proefdam" not in text_of(rendered(template, BARE_HOUSEHOLD))
