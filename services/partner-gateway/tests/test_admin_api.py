"""The partner registry's admin API through the real app and its lifespan: what it stores, and refusals
that are RFC 9457 problem details naming the field to fix."""

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from partner_gateway.config import Settings
from partner_gateway.main import create_app
from partner_gateway.partners.models import Partner, Subscription

pytestmark = pytest.mark.postgres

SECRET = "whsec_" + base64.b64encode(b"a made-up secret of a test corporation").decode()
PROBLEM_JSON = "application/problem+json"


def corporation(partner_id: str = "woonfriesland", **changes: Any) -> dict[str, Any]:
    return {
        "id": partner_id,
        "name": "WoonFriesland",
        "kind": "housing_corporation",
        "outbound_secret": SECRET,
        **changes,
    }


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(Settings(database_url=database_url))
    # httpx's ASGITransport does not run the lifespan; the app's engine and sessions come from it.
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        yield client


async def stored(app: FastAPI, model: type[Any]) -> list[Any]:
    async with app.state.session_factory() as session:
        return list((await session.scalars(select(model))).all())


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


async def test_registering_a_partner_answers_201_and_never_echoes_its_secret(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post("/v1/partners", json=corporation())
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "name", "kind", "team", "created_at"}
    assert (body["id"], body["name"], body["kind"]) == ("woonfriesland", "WoonFriesland", "housing_corporation")
    [partner] = await stored(app, Partner)
    assert (partner.id, partner.kind, partner.outbound_secret) == ("woonfriesland", "housing_corporation", SECRET)


async def test_registering_an_id_twice_is_a_409_problem_naming_the_id(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/partners", json=corporation())).status_code == 201
    body = assert_problem(await client.post("/v1/partners", json=corporation(name="Another")), 409)
    assert body["field"] == "id"
    assert "woonfriesland" in body["detail"]
    assert [p.name for p in await stored(app, Partner)] == ["WoonFriesland"]


async def test_registrations_of_one_id_at_once_give_one_201_and_409s(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Those that lose the race are told so, and nobody is told 201 for a row that was not stored."""
    answers = await asyncio.gather(
        *(client.post("/v1/partners", json=corporation(name=f"Registration {n}")) for n in range(5))
    )
    assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409, 409]
    [winner] = [answer for answer in answers if answer.status_code == 201]
    for loser in answers:
        if loser is not winner:
            assert assert_problem(loser, 409)["field"] == "id"
    assert [p.name for p in await stored(app, Partner)] == [winner.json()["name"]]


async def test_a_secret_not_in_standard_webhooks_format_is_a_422_naming_the_field(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = assert_problem(await client.post("/v1/partners", json=corporation(outbound_secret="hunter2")), 422)
    assert [error["field"] for error in body["errors"]] == ["outbound_secret"]
    assert "hunter2" not in str(body.get("detail")), "a refused secret is not repeated in the answer"
    assert await stored(app, Partner) == []


async def test_subscribing_stores_an_active_subscription(app: FastAPI, client: httpx.AsyncClient) -> None:
    await client.post("/v1/partners", json=corporation())
    response = await client.post(
        "/v1/partners/woonfriesland/subscriptions",
        json={"event_types": ["case.opened"], "callback_url": "https://hooks.woonfriesland.example/ep"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["partner_id"] == "woonfriesland"
    assert body["event_types"] == ["case.opened"]
    assert body["callback_url"] == "https://hooks.woonfriesland.example/ep"
    assert body["active"] is True
    [subscription] = await stored(app, Subscription)
    assert subscription.id == body["id"]


async def test_subscribing_to_an_unknown_event_type_is_a_422_naming_event_types(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.post("/v1/partners", json=corporation())
    response = await client.post(
        "/v1/partners/woonfriesland/subscriptions",
        json={"event_types": ["case.opened", "case.exploded"], "callback_url": "https://hooks.example/ep"},
    )
    body = assert_problem(response, 422)
    assert body["field"] == "event_types"
    assert "case.exploded" in body["detail"]
    assert await stored(app, Subscription) == []


async def test_subscribing_an_unknown_partner_is_a_404_problem(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/partners/nobody/subscriptions",
        json={"event_types": ["case.opened"], "callback_url": "https://hooks.example/ep"},
    )
    body = assert_problem(response, 404)
    assert body["field"] == "partner_id"
    assert "nobody" in body["detail"]
