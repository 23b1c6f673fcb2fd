"""Support trajectories over HTTP: help accepted moves a case into support and publishes support.started; an end
publishes support.ended; the process refuses support on a closed case."""

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from case_api_fixtures import TEAM, made_up_household, made_up_signal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.db import OutboxRecord
from eviction_schemas.envelope import event_type

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]


def unique_postcode() -> str:
    return f"{1000 + uuid.uuid4().int % 9000} SU"


def unique_house_number() -> str:
    """With the postcode an address no other test uses: R2 would attach the signal to that case."""
    return str(1 + uuid.uuid4().int % 10**9)


async def open_case(client: httpx.AsyncClient, *, team: str = TEAM) -> str:
    body = {
        "team": team,
        "household": made_up_household(postcode=unique_postcode(), house_number=unique_house_number()),
        "signal": made_up_signal(),
    }
    response = await client.post("/v1/signals", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def events(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord)
            .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
            .order_by(OutboxRecord.id)
        )
        return [json.loads(row.payload)["data"] for row in rows]


async def test_starting_support_moves_a_signalled_case_into_support_and_publishes_support_started(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        started = await client.post(f"/v1/cases/{case_id}/support", json={"kind": "debt_counselling"})
        assert started.status_code == 201, started.text
        support = started.json()
        assert (support["kind"], support["started_on"], support["active"]) == ("debt_counselling", "2026-03-02", True)
        assert (await client.get(f"/v1/cases/{case_id}")).json()["stage"] == "in_support"

    assert await events(sessions, case_id, "support.started") == [
        {"support_id": support["id"], "kind": "debt_counselling", "started_on": "2026-03-02"}
    ]


async def test_ending_support_publishes_support_ended_once(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        support = (
            await client.post(
                f"/v1/cases/{case_id}/support", json={"kind": "debt_arrangement", "started_on": "2026-02-20"}
            )
        ).json()
        too_early = await client.post(
            f"/v1/cases/{case_id}/support/{support['id']}/end", json={"ended_on": "2026-02-19", "end_reason": "x"}
        )
        assert too_early.status_code == 422
        assert too_early.json()["field"] == "ended_on"
        ended = await client.post(
            f"/v1/cases/{case_id}/support/{support['id']}/end", json={"end_reason": "the household moved away"}
        )
        assert ended.status_code == 200, ended.text
        assert (ended.json()["ended_on"], ended.json()["active"]) == ("2026-03-02", False)
        again = await client.post(f"/v1/cases/{case_id}/support/{support['id']}/end", json={"end_reason": "again"})
        assert again.status_code == 409
        listed = (await client.get(f"/v1/cases/{case_id}/support")).json()["items"]
        assert [(item["kind"], item["active"]) for item in listed] == [("debt_arrangement", False)]

    assert await events(sessions, case_id, "support.ended") == [
        {"support_id": support["id"], "kind": "debt_arrangement", "ended_on": "2026-03-02"}
    ]


async def test_the_same_kind_of_support_does_not_run_twice_at_once(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        first = await client.post(f"/v1/cases/{case_id}/support", json={"kind": "budget_management"})
        assert first.status_code == 201
        second = await client.post(f"/v1/cases/{case_id}/support", json={"kind": "budget_management"})
        assert second.status_code == 409
        assert second.json()["field"] == "kind"
        future = await client.post(
            f"/v1/cases/{case_id}/support", json={"kind": "debt_counselling", "started_on": "2026-03-03"}
        )
        assert future.status_code == 422
        assert future.json()["field"] == "started_on"


async def test_support_on_a_closed_case_is_409_and_another_teams_case_is_not_found(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        assert (await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})).is_success
        refused = await client.post(f"/v1/cases/{case_id}/support", json={"kind": "debt_counselling"})
        assert refused.status_code == 409
        assert refused.json()["allowed_actions"] == []
        other_team_case = await open_case(client)
    async with case_api_client(roles=("debt_counsellor",), team="team-zuid") as other:
        hidden = await other.post(f"/v1/cases/{other_team_case}/support", json={"kind": "debt_counselling"})
        assert hidden.status_code == 404
        assert (await other.get(f"/v1/cases/{other_team_case}/support")).status_code == 404
