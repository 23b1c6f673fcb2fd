"""Every error of a service answers RFC 9457 problem+json that names the field and the fix."""

import re
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from service_kit.app import create_service_app
from service_kit.errors import PROBLEM_JSON, Unprocessable, catalogue
from service_kit.settings import ServiceSettings

INTERNAL_SECRET = "db-password-hunter2 at /srv/case_api/internal.py line 42"


class EvictionDateInPast(Unprocessable):
    code = "eviction-date-in-past"
    title = "The eviction date lies in the past"
    fix = "Send a date from today on."


TYPE_BASE = "http://service/problems/"  # no PROBLEM_TYPE_BASE or PUBLIC_URL: the service's own pages


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid")
    birth_date: date


class Household(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: list[Member]


class SummonsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    household: Household | None = None


router = APIRouter()


@router.post("/summons", status_code=201)
async def register_summons(body: SummonsCreate) -> dict[str, str]:
    """Accept a summons."""
    return {"team": body.team}


@router.post("/evictions")
async def schedule_eviction() -> None:
    """Refuse a date in the past, as a service rule would."""
    raise EvictionDateInPast("the eviction date lies in the past; send a date from today on", field="eviction_date")


@router.get("/summons-count")
async def count_summons(limit: int = 10) -> dict[str, int]:
    """Take an integer query parameter."""
    return {"limit": limit}


@router.get("/crash")
async def crash() -> None:
    """Fail the way a bug does."""
    raise RuntimeError(INTERNAL_SECRET)


@pytest.fixture
async def client(kit_settings: Callable[..., ServiceSettings]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(settings=kit_settings(), title="problem test", description="errors", routers=[router])
    # raise_app_exceptions=False: the client sees what a real server sends, also for a crash.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert str(body["type"]).startswith(TYPE_BASE)
    assert body["title"] == catalogue()[str(body["type"]).removeprefix(TYPE_BASE)].title
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", body["instance"])
    assert body["detail"]
    return body


async def test_a_domain_error_renders_problem_json_with_its_type_status_detail_and_field(
    client: httpx.AsyncClient,
) -> None:
    body = assert_problem(await client.post("/evictions"), 422)

    assert body["type"] == TYPE_BASE + "eviction-date-in-past"
    assert body["title"] == "The eviction date lies in the past"
    assert body["detail"] == "the eviction date lies in the past; send a date from today on"
    assert body["field"] == "eviction_date"
    assert body["instance"] != (await client.post("/evictions")).json()["instance"]  # one per occurrence


async def test_a_validation_error_answers_400_naming_the_field(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/summons", json={"team": "Team Noord!"}), 400)

    assert body["type"] == TYPE_BASE + "validation-error"
    assert body["errors"][0]["pointer"] == "#/team"
    assert str(body["detail"]).startswith("team: ")
    assert [error["field"] for error in body["errors"]] == ["team"]


async def test_a_validation_error_in_a_nested_list_names_the_whole_path(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/summons",
        json={"team": "team-noord", "household": {"members": [{"birth_date": "2010-02-03"}, {}]}},
    )
    body = assert_problem(response, 400)

    assert [error["field"] for error in body["errors"]] == ["household.members[1].birth_date"]
    assert [error["pointer"] for error in body["errors"]] == ["#/household/members/1/birth_date"]
    assert str(body["detail"]).startswith("household.members[1].birth_date: ")


async def test_malformed_json_answers_a_client_error_in_problem_json_saying_the_body_is_no_json(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/summons", content=b'{"team": "team-noord",', headers={"content-type": "application/json"}
    )

    assert response.status_code in {400}
    body = assert_problem(response, response.status_code)
    assert "not valid JSON" in str(body["detail"])
    # A position in the text is no field of the request: the problem must not claim one.
    assert all(not str(error["field"]).startswith("[") for error in body.get("errors", []))


async def test_an_unexpected_exception_answers_500_problem_json_without_internals(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/crash")

    body = assert_problem(response, 500)
    assert body["type"] == TYPE_BASE + "internal-error"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    assert ".py" not in response.text


async def test_an_unknown_route_answers_404_problem_json(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no-such-thing"), 404)


async def test_a_query_parameter_is_named_with_where_it_was_not_a_pointer(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/summons-count", params={"limit": "many"}), 400)
    assert body["errors"] == [
        {"field": "limit", "message": body["errors"][0]["message"], "type": "int_parsing", "in": "query"}
    ]


async def test_every_problem_type_has_a_page_that_says_what_to_fix(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/evictions"), 422)
    page = await client.get(str(body["type"]).removeprefix("http://service"))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "The eviction date lies in the past" in page.text
    assert "Send a date from today on." in page.text
    index = await client.get("/problems/")
    for code in ("validation-error", "not-found", "internal-error", "eviction-date-in-past"):
        assert f'href="{code}"' in index.text
    assert_problem(await client.get("/problems/no-such-type"), 404)


async def test_a_configured_base_makes_the_type_uris(kit_settings: Callable[..., ServiceSettings]) -> None:
    settings = kit_settings(problem_type_base="https://docs.gemeente.example/api/problems/")
    app = create_service_app(settings=settings, title="problem test", description="errors", routers=[router])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        body = (await client.post("/evictions")).json()
    assert body["type"] == "https://docs.gemeente.example/api/problems/eviction-date-in-past"
