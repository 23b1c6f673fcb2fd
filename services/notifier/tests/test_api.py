"""The caseworkers' REST view of a case's notifications, through the real app and its lifespan."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from notifier.channels.base import HandOver, OutgoingMessage
from notifier.config import Settings
from notifier.main import create_app
from notifier.notifications.service import dispatch_requested, request_for_event
from notifier.templating.context import PlaceholderContacts
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

OPENED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class AcceptingChannel:
    name = "email"

    async def send(self, message: OutgoingMessage) -> HandOver:
        return HandOver(accepted=True, provider_reference="ref-1")


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(Settings(database_url=database_url))
    # httpx's ASGITransport does not run the lifespan; the app's engine and sessions come from it.
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier.test") as client:
        yield client


async def test_a_case_s_notifications_are_listed_with_their_status(
    app: FastAPI, client: httpx.AsyncClient, new_case_opened: Any
) -> None:
    clock = FixedClock(OPENED_AT)
    ours, other = new_case_opened(), new_case_opened()
    sessions = app.state.session_factory
    async with sessions() as session, session.begin():
        [notification] = await request_for_event(session, event=ours, clock=clock)
        await request_for_event(session, event=other, clock=clock)

    response = await client.get(f"/v1/cases/{ours.subject}/notifications")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "items": [
            {
                "id": notification.id,
                "case_id": ours.subject,
                "moment": "M1",
                "channel": "email",
                "language": "nl",
                "status": "requested",
                "attempts": 0,
                "created_at": "2026-03-02T09:30:00Z",
                "sent_at": None,
            }
        ]
    }

    clock.advance(timedelta(minutes=2))
    async with sessions() as session, session.begin():
        await dispatch_requested(
            session, channels={"email": AcceptingChannel()}, clock=clock, contacts=PlaceholderContacts()
        )
    [listed] = (await client.get(f"/v1/cases/{ours.subject}/notifications")).json()["items"]
    assert (listed["status"], listed["attempts"], listed["sent_at"]) == ("sent", 1, "2026-03-02T09:32:00Z")


async def test_a_case_without_notifications_lists_none(client: httpx.AsyncClient, new_case_opened: Any) -> None:
    response = await client.get(f"/v1/cases/{new_case_opened().subject}/notifications")
    assert response.status_code == 200
    assert response.json() == {"items": []}


async def test_templates_are_listed_with_their_languages_and_versions(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/templates")
    assert response.status_code == 200
    items = {item["id"]: item for item in response.json()["items"]}
    assert len(items) == 22
    assert items["M4.letter"] == {
        "id": "M4.letter",
        "moment": "M4",
        "channel": "letter",
        "languages": {"en": "1", "fy": "1", "nl": "1"},
    }


async def test_a_template_previews_for_a_made_up_household(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/templates/M4.letter/preview", params={"language": "fy"})
    assert response.status_code == 200, response.text
    preview = response.json()
    assert (preview["id"], preview["language"], preview["version"]) == ("M4.letter", "fy", "1")
    assert preview["subject"] == "De datum fan de ûntromming is bekend: 14 april 2026"
    assert preview["body"].startswith("Bêste Jelle Testhuis,")
    assert "Kenmerk: VOORBEELD" in preview["body"]


async def test_an_unknown_template_or_language_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/templates/M2.letter/preview")).status_code == 404
    assert (await client.get("/v1/templates/M1.sms/preview", params={"language": "de"})).status_code == 404
