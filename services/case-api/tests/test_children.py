"""Children first: the child-rights assessment for households with minors (R10) and the report of every family
with minors facing or past an eviction without a rehousing outcome (R11).

The legal track belongs to another package: tests put a case in its legal stage directly in the database."""

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any

import httpx
import pytest
from case_api_fixtures import TEAM, made_up_household, made_up_signal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.audit.models import ProcessingLogEntry
from case_api.cases.models import Case, RehousingOutcome, Stage
from case_api.db import OutboxRecord
from eviction_schemas.envelope import event_type

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
REPORT = "/v1/reports/evicted-families-without-rehousing"
ASSESSMENT = {
    "children_situation": "two children, 6 and 10, at the primary school nearby",
    "children_heard": True,
    "how_heard": "a talk at home with the school social worker present",
    "sleeping_place_after_eviction": "with their grandparents in Sneek",
    "completed": True,
}


def unique_postcode() -> str:
    return f"{1000 + uuid.uuid4().int % 9000} CH"


def unique_house_number() -> str:
    """With the postcode an address no other test uses: R2 would attach the signal to that case."""
    return str(1 + uuid.uuid4().int % 10**9)


async def open_case(client: httpx.AsyncClient, *, minors: bool = True, team: str = TEAM) -> str:
    household = made_up_household(
        postcode=unique_postcode(), house_number=unique_house_number(), **({} if minors else {"children_born": ()})
    )
    response = await client.post("/v1/signals", json={"team": team, "household": household, "signal": made_up_signal()})
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def put_in_stage(
    sessions: Sessions, case_id: str, stage: Stage, *, rehousing_outcome: RehousingOutcome | None = None
) -> None:
    async with sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        case.stage = stage
        case.eviction_date = date(2026, 3, 20) if stage is not Stage.in_support else None
        case.rehousing_outcome = rehousing_outcome


async def events(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord)
            .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
            .order_by(OutboxRecord.id)
        )
        return [json.loads(row.payload)["data"] for row in rows]


async def test_r10_assessment_only_for_households_with_minors(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        without = await open_case(client, minors=False)
        refused = await client.post(f"/v1/cases/{without}/child-assessments", json=ASSESSMENT)
        assert refused.status_code == 409, refused.text
        assert refused.json()["rule"] == "R10"
        family = await open_case(client)
        recorded = await client.post(f"/v1/cases/{family}/child-assessments", json=ASSESSMENT)
        assert recorded.status_code == 201, recorded.text
        listed = (await client.get(f"/v1/cases/{family}/child-assessments")).json()["items"]
        assert [item["id"] for item in listed] == [recorded.json()["id"]]

    assert await events(sessions, without, "child-assessment.recorded") == []
    assert await events(sessions, family, "child-assessment.recorded") == [
        {"completed": True, "children_heard": True, "sleeping_place_known": True}
    ]


async def test_r10_an_assessment_says_how_the_children_were_heard_and_when_complete_where_they_sleep(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        family = await open_case(client)
        no_how = await client.post(f"/v1/cases/{family}/child-assessments", json={**ASSESSMENT, "how_heard": None})
        assert no_how.status_code == 422
        assert no_how.json()["field"] == "how_heard"
        no_place = await client.post(
            f"/v1/cases/{family}/child-assessments", json={**ASSESSMENT, "sleeping_place_after_eviction": " "}
        )
        assert no_place.status_code == 422
        assert no_place.json()["field"] == "sleeping_place_after_eviction"
        partial = await client.post(
            f"/v1/cases/{family}/child-assessments",
            json={**ASSESSMENT, "children_heard": False, "sleeping_place_after_eviction": None, "completed": False},
        )
        assert partial.status_code == 201, partial.text

    assert await events(sessions, family, "child-assessment.recorded") == [
        {"completed": False, "children_heard": False, "sleeping_place_known": False}
    ]


async def test_r11_report_lists_families_without_rehousing(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        scheduled = await open_case(client)
        evicted = await open_case(client)
        aftercare = await open_case(client)
        with_outcome = await open_case(client)
        no_minors = await open_case(client, minors=False)
        not_yet = await open_case(client)
    async with case_api_client(team="team-zuid") as zuid:
        other_team = await open_case(zuid, team="team-zuid")
    await put_in_stage(sessions, scheduled, Stage.eviction_scheduled)
    await put_in_stage(sessions, evicted, Stage.evicted)
    await put_in_stage(sessions, aftercare, Stage.aftercare)
    await put_in_stage(sessions, with_outcome, Stage.evicted, rehousing_outcome=RehousingOutcome.own_solution)
    await put_in_stage(sessions, no_minors, Stage.evicted)
    await put_in_stage(sessions, not_yet, Stage.in_support)
    await put_in_stage(sessions, other_team, Stage.eviction_scheduled)

    async with case_api_client() as team_lead:
        response = await team_lead.get(REPORT)
    assert response.status_code == 200, response.text
    listed = {item["case_id"]: item for item in response.json()["items"]}
    assert {scheduled, evicted, aftercare} <= set(listed)
    assert not {with_outcome, no_minors, not_yet, other_team} & set(listed)
    assert all(item["team"] == TEAM for item in listed.values())
    assert listed[evicted]["stage"] == "evicted"
    assert listed[scheduled]["eviction_date"] == "2026-03-20"

    async with case_api_client(roles=("admin",), team=None) as admin:
        everywhere = (await admin.get(REPORT, params={"limit": 500})).json()
    assert {scheduled, evicted, aftercare, other_team} <= {item["case_id"] for item in everywhere["items"]}
    assert everywhere["total"] >= 4

    async with sessions() as session:
        logged = await session.scalars(select(ProcessingLogEntry.case_id).where(ProcessingLogEntry.case_id == evicted))
        assert list(logged)  # R17: the report's read of the case is in the processing log


@pytest.mark.parametrize("role", ["debt_counsellor", "outreach_worker", "policy_analyst"])
async def test_r11_report_is_for_team_leads_and_admins_only(case_api_client: Client, role: str) -> None:
    async with case_api_client(roles=(role,)) as client:
        response = await client.get(REPORT)
    assert response.status_code == 403, response.text
