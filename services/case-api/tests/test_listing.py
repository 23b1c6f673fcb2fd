"""Lists of cases: filters (stage, team, eviction date range, minors, overdue tasks, priority), team scoping,
and stable cursor pagination."""

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date, timedelta

import httpx
from case_api_fixtures import made_up_household, made_up_signal
from conftest import T0
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.cases.models import Case
from case_api.tasks.models import AssigneeRole, Task, TaskKind, TaskStatus
from service_kit.clock import FixedClock

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]


def new_team() -> str:
    return f"lijst-{uuid.uuid4().hex[:8]}"


def postcode() -> str:
    number = 1000 + uuid.uuid4().int % 9000
    return f"{number} ZZ"


async def open_case(client: httpx.AsyncClient, team: str, *, children: bool = True) -> str:
    household = made_up_household(postcode=postcode(), children_born=(date(2016, 1, 1),) if children else ())
    opened = await client.post("/v1/signals", json={"team": team, "household": household, "signal": made_up_signal()})
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


async def ids(client: httpx.AsyncClient, **params: object) -> list[str]:
    response = await client.get("/v1/cases", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return [case["id"] for case in response.json()["items"]]


async def test_a_team_lead_lists_only_the_cases_of_the_own_team(case_api_client: Client) -> None:
    team, other_team = new_team(), new_team()
    async with case_api_client(team=team) as client:
        mine = await open_case(client, team)
    async with case_api_client(team=other_team) as other:
        theirs = await open_case(other, other_team)
        assert await ids(other) == [theirs]
        refused = await other.get("/v1/cases", params={"team": team})
    assert refused.status_code == 403
    assert refused.json()["field"] == "team"
    async with case_api_client(roles=("admin",), team=None) as admin:
        assert await ids(admin, team=team) == [mine]


async def test_cases_are_filtered_by_stage_minors_and_priority(case_api_client: Client) -> None:
    team = new_team()
    async with case_api_client(team=team) as client:
        family = await open_case(client, team)
        adults = await open_case(client, team, children=False)
        await client.post(f"/v1/cases/{adults}/contact-attempts", json={"channel": "phone", "reached": True})
        assert await ids(client, stage="outreach") == [adults]
        assert sorted(await ids(client, stage=["outreach", "signalled"])) == sorted([family, adults])
        assert await ids(client, hasMinors=True) == [family]
        assert await ids(client, hasMinors=False) == [adults]
        assert await ids(client, priority="highest") == [family]


async def test_cases_are_filtered_by_eviction_date_range(case_api_client: Client, sessions: Sessions) -> None:
    team = new_team()
    async with case_api_client(team=team) as client:
        early_id = await open_case(client, team)
        late_id = await open_case(client, team)
        await open_case(client, team)
        async with sessions() as session, session.begin():
            await session.execute(update(Case).where(Case.id == early_id).values(eviction_date=date(2026, 4, 1)))
            await session.execute(update(Case).where(Case.id == late_id).values(eviction_date=date(2026, 6, 1)))
        assert await ids(client, evictionDateFrom="2026-03-15", evictionDateTo="2026-04-30") == [early_id]
        assert await ids(client, evictionDateFrom="2026-05-01") == [late_id]
        assert sorted(await ids(client, evictionDateTo="2026-12-31")) == sorted([early_id, late_id])
        backwards = {"evictionDateFrom": "2026-05-01", "evictionDateTo": "2026-04-01"}
        refused = await client.get("/v1/cases", params=backwards)
    assert refused.status_code == 400
    assert refused.json()["field"] == "evictionDateFrom"


async def test_overdue_tasks_are_open_tasks_due_before_today_in_amsterdam(
    case_api_client: Client, sessions: Sessions, clock: FixedClock
) -> None:
    team = new_team()
    async with case_api_client(team=team) as client:
        overdue_id, today_id, done_id = [await open_case(client, team) for _ in range(3)]
        today = date(2026, 3, 2)  # T0 in Europe/Amsterdam
        async with sessions() as session, session.begin():
            for case_id, due, status in (
                (overdue_id, today - timedelta(days=1), TaskStatus.open),
                (today_id, today, TaskStatus.open),
                (done_id, today - timedelta(days=3), TaskStatus.completed),
            ):
                session.add(
                    Task(
                        id=str(uuid.uuid4()),
                        case_id=case_id,
                        kind=TaskKind.call,
                        purpose=f"listing-test-{case_id}",
                        rule="R4",
                        due_date=due,
                        assignee_role=AssigneeRole.outreach_worker,
                        status=status,
                        created_at=T0,
                    )
                )
        assert await ids(client, overdueTasks=True) == [overdue_id]
        assert overdue_id not in await ids(client, overdueTasks=False)
        clock.set(T0.replace(hour=23, minute=30))  # 00:30 on 3 March in Amsterdam: today's task is overdue now
        assert sorted(await ids(client, overdueTasks=True)) == sorted([overdue_id, today_id])


async def test_cursor_pagination_is_stable_and_complete(case_api_client: Client, clock: FixedClock) -> None:
    team = new_team()
    async with case_api_client(team=team) as client:
        opened = []
        for minutes in range(5):
            clock.set(T0 + timedelta(minutes=minutes))
            opened.append(await open_case(client, team))
        first = (await client.get("/v1/cases", params={"limit": 2, "includeTotal": True})).json()
        second = (await client.get("/v1/cases", params={"limit": 2, "cursor": first["next_cursor"]})).json()
        third = (await client.get("/v1/cases", params={"limit": 2, "cursor": second["next_cursor"]})).json()
        bad = await client.get("/v1/cases", params={"cursor": "not-a-cursor"})
        too_many = await client.get("/v1/cases", params={"limit": 101})
    pages = [first, second, third]
    assert [case["id"] for page in pages for case in page["items"]] == list(reversed(opened))  # newest first
    assert first["total"] == 5
    assert third["next_cursor"] is None
    assert bad.status_code == 400
    assert bad.json()["field"] == "cursor"
    assert too_many.status_code == 400
