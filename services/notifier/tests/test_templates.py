"""Every template renders in every language for a made-up household, and SMS stay short and discreet.

Facts of a case are optional: placeholders() leaves out what the case does not have. Each moment may only rely on
the facts it guarantees (MOMENT_FACTS); every template must also render for such a minimal household.
"""

import re
from dataclasses import replace
from datetime import date

import pytest
from jinja2 import meta
from notifier_fixtures import MADE_UP_HOUSEHOLD

from notifier.notifications.choice import language_for
from notifier.notifications.models import Moment
from notifier.templating.catalog import (
    CHANNELS,
    ENVIRONMENT,
    LANGUAGES,
    RenderedMessage,
    TemplateFile,
    catalog,
    find,
    render,
)
from notifier.templating.context import Household, Sender

SENDER = Sender(name="Gemeente Proefdam", phone="14 0511")
# Words an SMS must not hold (a phone screen is seen by others): debts, amounts, court papers.
SMS_FORBIDDEN = re.compile(
    r"schuld|skuld|debt|vonnis|fonnis|judg(e)?ment|dagvaarding|summons|achterstand|efterstân|arrears|€|\beur\b",
    re.IGNORECASE,
)
AMOUNT = re.compile(r"€\s*\d|\d\s*€|\d+[.,]\d{2}\s*(euro|eur)\b", re.IGNORECASE)

# The household with none of the optional facts of a case.
BARE_HOUSEHOLD = replace(
    MADE_UP_HOUSEHOLD,
    eviction_date=None,
    storage_place=None,
    storage_reference=None,
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
    "M4": {"eviction_date": MADE_UP_HOUSEHOLD.eviction_date},
    "M5": {"eviction_date": MADE_UP_HOUSEHOLD.eviction_date},
    "M6": {},
    "M7": {},
    "M8": {"retention_end": MADE_UP_HOUSEHOLD.retention_end},
    "M9": {},
}
# M9 branches on the decision, M8 on its R14 message: every real send carries them.
M9_DECISIONS = ({"granted": False}, {"granted": True})
M8_MESSAGES = ({"belongings_message": "stored"}, {"belongings_message": "reminder"}, {"belongings_message": "ended"})
# Per language: the word that says an M9 application was refused, and the fallback objection period.
REFUSED = {"nl": "afgewezen", "fy": "ôfwiisd", "en": "refused"}
SIX_WEEKS = {"nl": "6 weken", "fy": "6 wiken", "en": "6 weeks"}


def rendered(template: TemplateFile, household: Household = MADE_UP_HOUSEHOLD) -> RenderedMessage:
    return render(template.id, language=template.language, household=household, sender=SENDER, reference="AB12CD34")


def minimal_households(moment: str) -> list[Household]:
    """The households with only what `moment` guarantees (for M9: one per decision)."""
    bare = replace(BARE_HOUSEHOLD, **MOMENT_FACTS[moment])
    if moment == "M9":
        return [replace(bare, extra=decision) for decision in M9_DECISIONS]
    if moment == "M8":
        return [replace(bare, extra=message) for message in M8_MESSAGES]
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
    if template.moment == "M8":
        for message in M8_MESSAGES:
            assert_complete(template, rendered(template, replace(MADE_UP_HOUSEHOLD, extra=message)))


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


def names_used(template: TemplateFile) -> set[str]:
    source = template.path.read_text(encoding="utf-8")
    return set(meta.find_undeclared_variables(ENVIRONMENT.parse(source)))


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.language == "nl"], ids=template_id)
def test_frisian_and_english_say_everything_dutch_says(template: TemplateFile) -> None:
    """Walks the catalogue: for every Dutch template a Frisian and an English one, naming the same facts (a
    translation that drops the storage place or the end date fails here)."""
    dutch = names_used(template)
    for language in ("fy", "en"):
        translation = find(template.id, language)  # UnknownTemplate when it is missing
        assert names_used(translation) == dutch, (template.id, language)
        assert translation.version.isdigit()


def test_a_frisian_household_gets_frisian_and_an_unknown_language_dutch() -> None:
    frisian = replace(MADE_UP_HOUSEHOLD, language="fy")
    for template in (t for t in TEMPLATES if t.language == "nl"):
        moment, channel = Moment(template.moment), template.channel
        assert language_for(moment, channel, frisian) == "fy", template.id
        assert language_for(moment, channel, replace(frisian, language="en")) == "en", template.id
        assert language_for(moment, channel, replace(frisian, language="tr")) == "nl", template.id
    letter = render("M4.letter", language="fy", household=frisian, sender=SENDER, reference="AB12CD34")
    assert letter.body.startswith("Bêste Jelle Testhuis,")


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
    for household in (MADE_UP_HOUSEHOLD, *minimal_households(template.moment)):
        text = text_of(rendered(template, household))
        assert len(text) < 320
        assert not AMOUNT.search(text)
        assert not SMS_FORBIDDEN.search(text), SMS_FORBIDDEN.findall(text)
        assert MADE_UP_HOUSEHOLD.first_name in text
        assert MADE_UP_HOUSEHOLD.full_name not in text
        assert not any(line in text for line in MADE_UP_HOUSEHOLD.address_lines)


def test_the_forbidden_words_check_catches_them() -> None:
    for text in ("uw schuld", "het vonnis", "de dagvaarding", "your debt", "the summons", "jo skuld", "€ 850"):
        assert SMS_FORBIDDEN.search(text) or AMOUNT.search(text), text


@pytest.mark.parametrize("template", M9_TEMPLATES, ids=template_id)
def test_a_refused_housing_decision_says_so_and_how_to_object(template: TemplateFile) -> None:
    refused = replace(MADE_UP_HOUSEHOLD, extra={"granted": False})
    text = text_of(rendered(template, refused))
    assert REFUSED[template.language] in text
    assert MADE_UP_HOUSEHOLD.housing_address not in text, "a refusal names no home"
    objection_end = re.compile(r"\b26 \w+ 2026\b")  # MADE_UP_HOUSEHOLD.objection_end in any language
    assert objection_end.search(text)

    bare = text_of(rendered(template, replace(BARE_HOUSEHOLD, extra={"granted": False})))
    assert REFUSED[template.language] in bare
    assert SIX_WEEKS[template.language] in bare, "without an objection end date: the 6-week term"


@pytest.mark.parametrize("template", M9_TEMPLATES, ids=template_id)
def test_a_granted_housing_decision_names_the_address_when_known(template: TemplateFile) -> None:
    assert MADE_UP_HOUSEHOLD.extra["granted"] is True
    text = text_of(rendered(template))
    assert MADE_UP_HOUSEHOLD.housing_address in text
    assert REFUSED[template.language] not in text

    bare = text_of(rendered(template, replace(BARE_HOUSEHOLD, extra={"granted": True})))
    assert REFUSED[template.language] not in bare
    assert SIX_WEEKS[template.language] in bare


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.moment == "M7"], ids=template_id)
def test_after_an_eviction_the_storage_place_is_named_only_when_known(template: TemplateFile) -> None:
    known = replace(
        BARE_HOUSEHOLD, storage_place="Opslag Proefdam", storage_reference="OPS-7", retention_end=date(2026, 7, 14)
    )
    text = text_of(rendered(template, known))
    if template.channel != "sms":  # an SMS names no place (a phone screen is seen by others)
        assert "Opslag Proefdam" in text
        assert "OPS-7" in text
        assert "2026" in text
    assert "Opslag Proefdam" not in text_of(rendered(template, BARE_HOUSEHOLD))


M8_TEMPLATES = [t for t in TEMPLATES if t.moment == "M8"]
# Per language, words only the message of that R14 moment says.
M8_SAYS = {
    "stored": {"nl": "zijn opgeslagen", "fy": "is opslein", "en": "in storage"},
    "reminder": {"nl": "drie weken", "fy": "trije wiken", "en": "three weeks"},
    "ended": {"nl": "voorbij", "fy": "is om", "en": "ended"},
}


@pytest.mark.parametrize("template", M8_TEMPLATES, ids=template_id)
def test_m8_names_the_storage_place_reference_and_end_date_at_each_r14_moment(template: TemplateFile) -> None:
    end = {"nl": "14 juli 2026", "fy": "14 july 2026", "en": "14 July 2026"}[template.language]
    for message, says in M8_SAYS.items():
        text = text_of(rendered(template, replace(MADE_UP_HOUSEHOLD, extra={"belongings_message": message})))
        assert says[template.language] in text, message
        assert end in text or (message == "ended" and template.channel == "sms"), message
        others = [words[template.language] for other, words in M8_SAYS.items() if other != message]
        assert not any(word in text.split("\n", 1)[0] for word in others), f"{message}: {text.splitlines()[0]}"
        if template.channel != "sms":
            assert MADE_UP_HOUSEHOLD.storage_place is not None
            assert MADE_UP_HOUSEHOLD.storage_place in text, message
            assert "OPS-2026-0042" in text, message
