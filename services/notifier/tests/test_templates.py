"""Every template renders in every language for a made-up household, and SMS stay short and discreet."""

import re

import pytest

from notifier.templating.catalog import CHANNELS, LANGUAGES, RenderedMessage, TemplateFile, catalog, render
from notifier.templating.context import PLACEHOLDER_HOUSEHOLD, Sender

SENDER = Sender(name="Gemeente Proefdam", phone="14 0511")
# Words an SMS must not hold (a phone screen is seen by others): debts, amounts, court papers.
SMS_FORBIDDEN = re.compile(
    r"schuld|skuld|debt|vonnis|fonnis|judg(e)?ment|dagvaarding|summons|achterstand|efterstân|arrears|€|\beur\b",
    re.IGNORECASE,
)
AMOUNT = re.compile(r"€\s*\d|\d\s*€|\d+[.,]\d{2}\s*(euro|eur)\b", re.IGNORECASE)


def rendered(template: TemplateFile) -> RenderedMessage:
    return render(
        template.id, language=template.language, household=PLACEHOLDER_HOUSEHOLD, sender=SENDER, reference="AB12CD34"
    )


TEMPLATES = catalog()


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: f"{t.id}.{t.language}")
def test_every_template_renders_and_says_who_what_and_which_number(template: TemplateFile) -> None:
    message = rendered(template)  # StrictUndefined: a missing placeholder raises here
    assert message.subject
    assert message.body.strip()
    assert message.version == "1"
    text = message.subject + "\n" + message.body
    assert SENDER.name in text, "every message says who sends it"
    assert text.count(SENDER.phone) == 1, "every message gives one phone number"
    assert "{{" not in text
    assert "{%" not in text


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
        "M7": {"sms", "email"},
        "M8": {"sms", "email", "letter"},
        "M9": {"letter", "email"},
    }


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.channel == "sms"], ids=lambda t: f"{t.id}.{t.language}")
def test_an_sms_holds_no_amounts_debts_or_legal_detail_and_only_the_first_name(template: TemplateFile) -> None:
    message = rendered(template)
    text = message.subject + "\n" + message.body
    assert len(text) < 320
    assert not AMOUNT.search(text)
    assert not SMS_FORBIDDEN.search(text), SMS_FORBIDDEN.findall(text)
    assert PLACEHOLDER_HOUSEHOLD.first_name in text
    assert PLACEHOLDER_HOUSEHOLD.full_name not in text
    assert not any(line in text for line in PLACEHOLDER_HOUSEHOLD.address_lines)


def test_the_forbidden_words_check_catches_them() -> None:
    for text in ("uw schuld", "het vonnis", "de dagvaarding", "your debt", "the summons", "jo skuld", "€ 850"):
        assert SMS_FORBIDDEN.search(text) or AMOUNT.search(text), text
