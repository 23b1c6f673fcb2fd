"""What the templates endpoints give."""

from pydantic import BaseModel


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
