"""What the templates endpoints give."""

from pydantic import BaseModel, Field

PLACEHOLDER_NOTICE = (
    "PREVIEW: rendered with marked placeholders («...») instead of a household's details; this message was not sent."
)
CASE_NOTICE = "PREVIEW: rendered for the household case-api records for this case; this message was not sent."


class TemplateRead(BaseModel):
    id: str
    moment: str
    channel: str
    languages: dict[str, str]  # language -> version


class TemplateList(BaseModel):
    items: list[TemplateRead]


class TemplatePreview(BaseModel):
    id: str
    language: str
    version: str
    subject: str
    body: str
    case_id: str | None = Field(
        default=None, description="The case whose recorded household it was rendered for; null: placeholders."
    )
    preview: bool = Field(default=True, description="Always true: a preview, never sent to anybody.")
    notice: str = Field(default=PLACEHOLDER_NOTICE, description="Says in words that this is a preview, and of what.")
