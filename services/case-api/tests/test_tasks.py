"""Tasks over HTTP and in the service on PostgreSQL: created once per case and purpose, completed by hand with
task.completed, listed per case and per team (overdue filter, team scope, pagination)."""

import json
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.cases.service import load_case
from case_api.config import Settings
from case_api.context import Context
from case_api.db import OutboxRecord
from case_api.tasks.models import AssigneeRole, Task, TaskKind
from case_api.tasks.service import ensure_task
from case_api.workers.deadlines import WORKER, run_once
from eviction_schemas.envelope import event_type
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


async def open_case(client: httpx.AsyncClient, team: str = "team-noord") -> str:
    household = made_up_household(house_number=str(random.randint(1, 999_999)), children_born=())
    response = await client.post(
        "/v1/signals", json={"team": team, "household": household, "signal": made_up_signal(signal_date="2026-02-27")}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def events_of(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord)
            .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
            .order_by(OutboxRecord.id)
        )
        return [json.loads(row.payload)["data"] for row in rows]


async def test_ensure_task_creates_a_task_once_per_purpose_with_one_task_created(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
    for _ in range(2):
        async with sessions() as session, session.begin():
            ctx = Context(session=session, settings=settings_for(case_api_db), clock=clock, principal=WORKER)
            case = await load_case(ctx, case_id, for_update=True)
            await ensure_task(
                ctx,
                case=case,
                kind=TaskKind.home_visit,
                purpose="home_visit:1",
                rule="R4",
                due_date=date(2026, 3, 9),
                assignee_role=AssigneeRole.outreach_worker,
            )
    async with sessions() as session:
        [task] = (await session.scalars(select(Task).where(Task.case_id == case_id))).all()
    assert await events_of(sessions, case_id, "task.created") == [
        {"task_id": task.id, "task_kind": "home_visit", "due_date": "2026-03-09", "assignee_role": "outreach_worker"}
    ]


async def test_a_case_lists_its_tasks_and_completing_one_publishes_task_completed_once(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        await run_once(sessions, settings_for(case_api_db), clock)
        tasks = (await client.get(f"/v1/cases/{case_id}/tasks")).json()
        assert [(t["kind"], t["due_date"], t["status"], t["rule"]) for t in tasks] == [
            ("first_contact", "2026-03-06", "open", "R4"),
            ("offer_of_help", "2026-03-27", "open", "R4"),
        ]
        task_id = tasks[1]["id"]
        done = await client.post(f"/v1/tasks/{task_id}/complete")
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["completed_by"]) == ("completed", "caseworker-1")
        again = await client.post(f"/v1/tasks/{task_id}/complete")
        assert again.status_code == 409
        assert again.json()["field"] == "task_id"
        missing = await client.post("/v1/tasks/00000000-0000-0000-0000-000000000000/complete")
        assert missing.status_code == 404
    assert await events_of(sessions, case_id, "task.completed") == [
        {"task_id": task_id, "task_kind": "offer_of_help", "completed_on": "2026-03-02"}
    ]
    await run_once(sessions, settings_for(case_api_db), clock)  # a completed task is not created again
    async with sessions() as session:
        count = len((await session.scalars(select(Task).where(Task.case_id == case_id))).all())
    assert count == 2


async def test_the_overdue_list_is_team_scoped_and_paginated(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    async with case_api_client() as client:
        ours = [await open_case(client) for _ in range(2)]
    async with case_api_client(roles=("admin",), team=None) as admin:
        theirs = await open_case(admin, team="team-zuid")
    await run_once(sessions, settings_for(case_api_db), clock)
    clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))  # first contact (due Friday 6 March) is overdue
    async with case_api_client(roles=("outreach_worker",)) as client:
        overdue = (await client.get("/v1/tasks", params={"overdue": "true"})).json()
        assert {task["case_id"] for task in overdue["items"]} >= set(ours)
        assert theirs not in {task["case_id"] for task in overdue["items"]}
        assert all(task["due_date"] < "2026-03-09" and task["status"] == "open" for task in overdue["items"])
        page = (await client.get("/v1/tasks", params={"overdue": "true", "limit": 1, "offset": 1})).json()
        assert (len(page["items"]), page["total"], page["offset"]) == (1, overdue["total"], 1)
        assert page["items"][0]["id"] == overdue["items"][1]["id"]
        refused = await client.get("/v1/tasks", params={"team": "team-zuid"})
        assert refused.status_code == 403
        assert refused.json()["field"] == "team"
        assert (await client.get(f"/v1/cases/{theirs}/tasks")).status_code == 404
        everything = (await client.get("/v1/tasks")).json()
        assert everything["total"] > overdue["total"]  # the offers of help are not overdue yet
    async with case_api_client(roles=("admin",), team=None) as admin:
        other_team = (await admin.get("/v1/tasks", params={"team": "team-zuid", "overdue": "true"})).json()
        assert {task["case_id"] for task in other_team["items"]} == {theirs}
    async with case_api_client(roles=("policy_analyst",), team=None) as analyst:
        assert (await analyst.get("/v1/tasks")).status_code == 403


async def test_another_team_cannot_complete_a_task(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
    await run_once(sessions, settings_for(case_api_db), clock)
    clock.advance(timedelta(hours=1))
    async with sessions() as session:
        task = (await session.scalars(select(Task).where(Task.case_id == case_id))).first()
    assert task is not None
    async with case_api_client(roles=("team_lead",), team="team-zuid") as other:
        response = await other.post(f"/v1/tasks/{task.id}/complete")
    assert response.status_code == 404
    assert await events_of(sessions, case_id, "task.completed") == []
