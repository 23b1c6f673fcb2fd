"""The message templates: list them, and preview one, for a case's recorded household or with marked
placeholders; a preview is never sent."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from notifier.db import SessionDep
from notifier.notifications.repository import NotificationRepository
from notifier.notifications.router import READERS, check_team
from notifier.templating import service
from notifier.templating.catalog import catalog
from notifier.templating.schemas import TemplateList, TemplatePreview, TemplateRead
from service_kit.auth import Principal
from service_kit.errors import Problem

router = APIRouter(prefix="/v1", tags=["templates"])


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


class PreviewFacts:
    """The facts a preview may be asked to render that no case records: M9's decision and M8's occasion."""

    def __init__(
        self,
        language: Annotated[str, Query(pattern="^[a-z]{2,3}$")] = "nl",
        granted: Annotated[bool, Query(description="M9: the decision to render, granted or refused.")] = True,
        belongings_message: Annotated[
            Literal["stored", "reminder", "ended"],
            Query(alias="belongingsMessage", description="M8: the message about stored belongings (R14) to render."),
        ] = "reminder",
    ) -> None:
        self.language = language
        self.facts: dict[str, object] = {"granted": granted, "belongings_message": belongings_message}


@router.get(
    "/templates/{template_id}/preview",
    response_model=TemplatePreview,
    responses={404: {"model": Problem, "description": "No such template or language."}},
)
async def preview_template(
    template_id: str, request: Request, asked: Annotated[PreviewFacts, Depends()]
) -> TemplatePreview:
    """One template rendered with marked placeholders (no household's details); never sent."""
    return await service.preview(
        template_id, language=asked.language, case_id=None, settings=request.app.state.settings, facts=asked.facts
    )


@router.get(
    "/cases/{case_id}/templates/{template_id}/preview",
    response_model=TemplatePreview,
    responses={
        401: {"model": Problem, "description": "No valid bearer token."},
        403: {"model": Problem, "description": "The case belongs to another area team, or the role may not read it."},
        404: {"model": Problem, "description": "No such template or language, or no such case."},
        422: {"model": Problem, "description": "The case lacks a fact the template names (e.g. no eviction date)."},
        503: {"model": Problem, "description": "case-api cannot be asked now."},
    },
)
async def preview_template_for_case(
    case_id: str,
    template_id: str,
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(READERS)],
    asked: Annotated[PreviewFacts, Depends()],
) -> TemplatePreview:
    """One template rendered for the case's household as case-api records it (a caseworker of the case's team or
    an admin); marked as a preview, never sent."""
    check_team(principal, await NotificationRepository(session).case_state(case_id), case_id)
    return await service.preview(
        template_id, language=asked.language, case_id=case_id, settings=request.app.state.settings, facts=asked.facts
    )
