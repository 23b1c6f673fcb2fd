"""The message templates: list them, and preview one rendered for a made-up household."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from notifier.templating.catalog import UnknownTemplate, catalog, render
from notifier.templating.context import PLACEHOLDER_HOUSEHOLD, Sender
from notifier.templating.schemas import TemplateList, TemplatePreview, TemplateRead

router = APIRouter(prefix="/v1", tags=["templates"])

PREVIEW_REFERENCE = "VOORBEELD"


@router.get("/templates", response_model=TemplateList)
async def list_templates() -> TemplateList:
    """Every template (moment.channel) with its languages and their versions."""
    found: dict[str, TemplateRead] = {}
    for template in catalog():
        read = found.setdefault(
            template.id, TemplateRead(id=template.id, moment=template.moment, channel=template.channel, languages={})
        )
        read.languages[template.language] = template.version
    return TemplateList(items=list(found.values()))


@router.get("/templates/{template_id}/preview", response_model=TemplatePreview)
async def preview_template(
    template_id: str,
    request: Request,
    language: Annotated[str, Query(pattern="^[a-z]{2,3}$")] = "nl",
) -> TemplatePreview:
    """One template rendered for a made-up household (never a real one)."""
    try:
        rendered = render(
            template_id,
            language=language,
            household=PLACEHOLDER_HOUSEHOLD,
            sender=Sender.from_settings(request.app.state.settings),
            reference=PREVIEW_REFERENCE,
        )
    except UnknownTemplate as missing:
        raise HTTPException(404, f"{missing}; GET /v1/templates lists the templates and languages") from None
    return TemplatePreview(
        id=template_id, language=language, version=rendered.version, subject=rendered.subject, body=rendered.body
    )
