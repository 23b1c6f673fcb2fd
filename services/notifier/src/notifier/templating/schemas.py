"""What the templates endpoints give."""

from pydantic import BaseModel, Field


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
    preview: bool = Field(
        default=True, description="Always true: rendered for a made-up household, never sent to anybody."
    )
    notice: str = Field(
        default="PREVIEW: rendered for a made-up household (not a real person); this message was not sent.",
        description="Says in words that this is a preview.",
    )
