"""A partner reports the arrears cleared (arrears.cleared, through the gateway): its signals of that reference are
resolved with signal.resolved (no amount); a case nobody worked on yet closes as paid_or_arranged_by_themselves,
any other gets a task to close it or carry on, and a case with another standing signal goes on (ADR 0012)."""

import json
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from case_api_fixtures import made_up_household, made_up_signal
from conftest import case_api_settings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.db import OutboxRecord
from case_api.workers.deadlines import run_once
from eviction_schemas.envelope import event_type
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
CLEARED = {"partner_id": "corporation-test", "partner_reference": "tenancy-0001", "cleared_on": "2026-03-02"}


async def open_case(client: httpx.AsyncClient, **signal: object) -> str:
    household = made_up_household(house_number=str(random.randint(1, 999_999)), children_born=())
    body = {"team": "team-noord", "household": household, "signal": made_up_signal(**signal)}
    response = await client.post("/v1/signals", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def events_of(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxRecord).where(OutboxRecord.key == case_id).order_by(OutboxRecord.id))
        return [json.loads(row.payload)["data"] for row in rows if row.event_type == event_type(name)]


async def test_arrears_cleared_before_anyone_worked_on_the_case_resolve_its_signal_and_close_it(
    case_api_client: Client, sessions: Sessions, case_api_db: str, clock: FixedClock
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        await run_once(sessions, case_api_settings(case_api_db), clock)  # R4's first-contact task and offer of help
        assert {task["status"] for task in (await client.get(f"/v1/cases/{case_id}/tasks")).json()} == {"open"}
        cleared = await client.post(f"/v1/cases/{case_id}/signals/arrears-cleared", json=CLEARED)
        assert cleared.status_code == 200, cleared.text
        case = (await client.get(f"/v1/cases/{case_id}")).json()
        tasks = (await client.get(f"/v1/cases/{case_id}/tasks")).json()
    receipt = cleared.json()
    [signal] = case["signals"]
    assert receipt["resolved_signal_ids"] == [signal["id"]]
    assert (receipt["signals_standing"], receipt["case_closed"], receipt["task"]) == (0, True, None)
    assert (signal["resolved_on"], signal["resolution"]) == ("2026-03-02", "arrears_cleared")
    assert (case["stage"], case["outcome_code"]) == ("closed", "paid_or_arranged_by_themselves")
    assert {task["status"] for task in tasks} == {"cancelled"}, "R4's tasks are moot once the case closed"
    [resolved] = await events_of(sessions, case_id, "signal.resolved")
    assert resolved == {
        "signal_id": signal["id"],
        "partner_kind": "housing_corporation",
        "resolved_on": "2026-03-02",
        "resolution": "arrears_cleared",
    }
    assert await events_of(sessions, case_id, "case.closed") == [{"outcome": "paid_or_arranged_by_themselves"}]


@pytest.mark.parametrize(
    ("stage_steps", "assignee"),
    [
        ([("contact-attempts", {"channel": "phone", "reached": True})], "outreach_worker"),
        ([("legal-steps", {"kind": "eviction_requested", "occurred_on": "2026-03-02"})], "debt_counsellor"),
    ],
    ids=["outreach", "legal-track"],
)
async def test_arrears_cleared_in_a_case_under_way_leave_a_task_to_close_it_or_carry_on(
    case_api_client: Client, stage_steps: list[tuple[str, dict[str, Any]]], assignee: str
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        for path, body in stage_steps:
            assert (await client.post(f"/v1/cases/{case_id}/{path}", json=body)).status_code == 201
        cleared = await client.post(f"/v1/cases/{case_id}/signals/arrears-cleared", json=CLEARED)
        assert cleared.status_code == 200, cleared.text
        case = (await client.get(f"/v1/cases/{case_id}")).json()
    task = cleared.json()["task"]
    assert cleared.json()["case_closed"] is False
    assert case["stage"] != "closed"
    assert (task["kind"], task["status"], task["assignee_role"]) == ("arrears_cleared", "open", assignee)
    assert task["due_date"] == "2026-03-09"  # 5 working days after Monday 2 March
    assert "paid_or_arranged_by_themselves" in task["reason"]


async def test_while_another_signal_stands_clearing_one_changes_nothing_else(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        water = made_up_signal(partner_kind="utility", partner_id="water-test", partner_reference="W-1")
        assert (await client.post(f"/v1/cases/{case_id}/signals", json=water)).status_code == 201
        cleared = await client.post(f"/v1/cases/{case_id}/signals/arrears-cleared", json=CLEARED)
        case = (await client.get(f"/v1/cases/{case_id}")).json()
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["signals_standing"], cleared.json()["case_closed"], cleared.json()["task"]) == (
        1,
        False,
        None,
    )
    assert case["stage"] == "signalled"
    assert sorted((s["partner_id"], s["resolution"]) for s in case["signals"]) == [
        ("corporation-test", "arrears_cleared"),
        ("water-test", None),
    ]


async def test_clearing_an_unknown_reference_twice_or_in_the_future_is_refused_naming_the_field(
    case_api_client: Client,
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, signal_date="2026-02-27")
        other = await open_case(client)  # the case stays open while the first is refused
        path = f"/v1/cases/{case_id}/signals/arrears-cleared"
        unknown = await client.post(path, json={**CLEARED, "partner_reference": "tenancy-9999"})
        future = await client.post(path, json={**CLEARED, "cleared_on": "2026-03-03"})
        before = await client.post(path, json={**CLEARED, "cleared_on": "2025-12-31"})
        first = await client.post(path, json=CLEARED)
        again = await client.post(path, json=CLEARED)
        assert (await client.post(f"/v1/cases/{other}/close", json={"outcome_code": "no_help_wanted"})).is_success
        closed = await client.post(f"/v1/cases/{other}/signals/arrears-cleared", json=CLEARED)
    assert (unknown.status_code, unknown.json()["field"]) == (404, "partner_reference")
    assert (future.status_code, future.json()["field"]) == (422, "cleared_on")
    assert (before.status_code, before.json()["field"]) == (422, "cleared_on")
    assert first.status_code == 200
    assert (again.status_code, again.json()["field"]) == (409, "partner_reference")
    assert "already" in again.json()["detail"]
    assert (closed.status_code, closed.json()["field"]) == (409, "stage")
