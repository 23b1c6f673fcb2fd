"""Previews of a template, never sent to anybody: rendered for a case's recorded household, read from case-api with
the notifier's service token as a send reads it (and logged there, R17), or, without a case, with placeholders
marked as such («voornaam», «adres») instead of an invented person."""

from http import HTTPStatus

from jinja2 import UndefinedError

from notifier.case_api import CaseApiContacts, CaseApiUnavailable, open_case_api
from notifier.config import Settings
from notifier.notifications.service import household_with_facts
from notifier.templating.catalog import RenderedMessage, UnknownTemplate, find, reference_of, render, render_names
from notifier.templating.context import ContactLookup, Sender
from notifier.templating.schemas import CASE_NOTICE, PLACEHOLDER_NOTICE, TemplatePreview
from service_kit.errors import DomainError, NotFound, Unprocessable

PREVIEW_REFERENCE = "VOORBEELD"
# What each placeholder stands for, per language; a language without labels of its own gets the English ones.
PLACEHOLDER_LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "first_name": "voornaam",
        "full_name": "naam",
        "street": "straat en huisnummer",
        "place": "postcode en plaats",
        "eviction_date": "datum ontruiming",
        "storage_place": "opslagplaats",
        "storage_reference": "kenmerk opgeslagen spullen",
        "retention_end": "einde bewaartijd",
        "housing_address": "adres tijdelijke woning",
        "objection_end": "einde bezwaartermijn",
    },
    "fy": {
        "first_name": "foarnamme",
        "full_name": "namme",
        "street": "strjitte en hûsnûmer",
        "place": "postkoade en plak",
        "eviction_date": "datum ûntromming",
        "storage_place": "opslachplak",
        "storage_reference": "kenmerk opsleine guod",
        "retention_end": "ein bewartiid",
        "housing_address": "adres tydlike wenning",
        "objection_end": "ein beswierterm",
    },
    "en": {
        "first_name": "first name",
        "full_name": "name",
        "street": "street and number",
        "place": "postcode and town",
        "eviction_date": "eviction date",
        "storage_place": "storage place",
        "storage_reference": "reference of the stored belongings",
        "retention_end": "end of storage",
        "housing_address": "temporary home's address",
        "objection_end": "end of the objection period",
    },
}


class CaseApiNotAnswering(DomainError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "case-api-unavailable"
    title = "The case API does not answer"
    fix = "The notifier needs the case's facts from case-api for this and could not reach it. Try again shortly."


async def preview(
    template_id: str, *, language: str, case_id: str | None, settings: Settings, facts: dict[str, object]
) -> TemplatePreview:
    """The preview the endpoint gives: for the case's household (read from case-api) when `case_id` is given (the
    caller's access to the case checked before), else with marked placeholders."""
    try:
        find(template_id, language)
    except UnknownTemplate as missing:
        raise NotFound(f"{missing}; GET /v1/templates lists the templates and languages", field="template_id") from None
    sender = Sender.from_settings(settings)
    if case_id is None:
        rendered = preview_with_placeholders(template_id, language=language, sender=sender, facts=facts)
        notice = PLACEHOLDER_NOTICE
    else:
        try:
            async with open_case_api(settings) as case_api:
                contacts = CaseApiContacts(case_api)
                rendered = await preview_for_case(
                    template_id, case_id=case_id, language=language, contacts=contacts, sender=sender, facts=facts
                )
        except CaseApiUnavailable as error:
            raise CaseApiNotAnswering(f"case-api cannot be asked now, try again later: {error}") from None
        notice = CASE_NOTICE
    return TemplatePreview(
        id=template_id,
        language=language,
        version=rendered.version,
        subject=rendered.subject,
        body=rendered.body,
        case_id=case_id,
        notice=notice,
    )


def marked(label: str) -> str:
    return f"«{label}»"


def placeholder_names(*, language: str, sender: Sender, facts: dict[str, object]) -> dict[str, object]:
    """Every name a template may use, each fact of a household a marked placeholder; who sends is the configured
    municipality (not invented). `facts`: what a template branches on (granted, belongings_message)."""
    labels = {name: marked(label) for name, label in PLACEHOLDER_LABELS.get(language, PLACEHOLDER_LABELS["en"]).items()}
    street, place = labels.pop("street"), labels.pop("place")
    return {
        **labels,
        "address_lines": (street, place),
        "reference": PREVIEW_REFERENCE,
        "offer_oco": True,
        "oco_provider": "MEE Noord",
        "legal_aid": "Het Juridisch Loket",
        "legal_aid_site": "juridischloket.nl",
        "municipality_name": sender.name,
        "municipality_phone": sender.phone,
        **facts,
    }


def preview_with_placeholders(
    template_id: str, *, language: str, sender: Sender, facts: dict[str, object]
) -> RenderedMessage:
    return render_names(
        template_id, language=language, names=placeholder_names(language=language, sender=sender, facts=facts)
    )


async def preview_for_case(
    template_id: str,
    *,
    case_id: str,
    language: str,
    contacts: ContactLookup,
    sender: Sender,
    facts: dict[str, object],
) -> RenderedMessage:
    """The template as the case's recorded household would read it now; NotFound for a household case-api does not
    know (or erased), Unprocessable when the case lacks a fact the template needs (no eviction date yet)."""
    household = await contacts.household(case_id)
    if household is None:
        raise NotFound(f"case-api knows no household of case {case_id} (unknown or erased)", field="case_id")
    try:
        return render(
            template_id,
            language=language,
            household=household_with_facts(household, facts),
            sender=sender,
            reference=reference_of(case_id),
        )
    except UndefinedError as missing:
        raise Unprocessable(
            f"case {case_id} does not have what template {template_id} names ({missing.message}); "
            "preview it without case_id to see its placeholders",
            field="case_id",
        ) from None
