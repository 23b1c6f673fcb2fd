"""Household maintenance (issue 10): a partner opens a case without minors, staff records the family's children,
contact details, language and BSN; minors recompute has_minors, the priority and the R10 tasks at once, and every
change publishes household.updated without personal data. Made-up households; BSNs only pass the eleven-test."""

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
from case_api.tasks.models import Task, TaskStatus
from eviction_schemas.envelope import event_type

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
GATEWAY = {"roles": ("partner_gateway",), "team": None}
BSN = "111222333"  # fictitious; passes the eleven-test
ASSESSMENT = {
    "children_situation": "two young children, made up",
    "children_heard": True,
    "how_heard": "a made-up talk at home",
    "sleeping_place_after_date": "with made-up grandparents",
    "completed": True,
}


def unique_address() -> dict[str, str]:
    return {"postcode": f"{1000 + uuid.uuid4().int % 9000} HH", "house_number": str(1 + uuid.uuid4().int % 10**9)}


async def partner_opened_case(case_api_client: Client) -> tuple[str, dict[str, Any]]:
    household = made_up_household(**unique_address(), children_born=())
    household.pop("email"), household.pop("mobile")
    household["preferred_channel"] = "letter"
    async with case_api_client(**GATEWAY) as gateway:
        opened = await gateway.post(
            "/v1/signals", json={"team": TEAM, "household": household, "signal": made_up_signal()}
        )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["case_id"]), household


async def events(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord)
            .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
            .order_by(OutboxRecord.id)
        )
        return [json.loads(row.payload)["data"] for row in rows]


async def open_tasks(sessions: Sessions, case_id: str) -> set[str]:
    async with sessions() as session:
        tasks = await session.scalars(select(Task).where(Task.case_id == case_id, Task.status == TaskStatus.open))
        return {task.purpose for task in tasks}


async def test_staff_records_the_children_of_a_partner_opened_case(case_api_client: Client, sessions: Sessions) -> None:
    case_id, household = await partner_opened_case(case_api_client)
    async with case_api_client(roles=("outreach_worker",)) as staff:
        before = (await staff.get(f"/v1/cases/{case_id}")).json()
        assert (before["has_minors"], before["priority"]) == (False, "normal")
        scheduled = await staff.post(
            f"/v1/cases/{case_id}/eviction/schedule", json={"eviction_date": "2026-04-20", "served_on": "2026-03-02"}
        )
        assert scheduled.status_code == 200, scheduled.text
        assert not any(p.startswith("child_rights") for p in await open_tasks(sessions, case_id))
        refused = await staff.post(f"/v1/cases/{case_id}/child-assessments", json=ASSESSMENT)
        assert refused.status_code == 409, refused.text

        children = [
            {"role": "child", "given_name": "Kind1", "surname": "Testhuis", "birth_date": "2021-05-01"},
            {"role": "child", "given_name": "Kind2", "surname": "Testhuis", "birth_date": "2023-09-12"},
        ]
        family = {
            **household,
            "members": [*household["members"], *children],
            "mobile": "0687654321",
            "email": "fam.testhuis@example.invalid",
            "mail_address": "Postbus 12, 8900 AA Leeuwarden",
            "language": "fy",
            "preferred_channel": "sms",
            "bsn": BSN,
        }
        updated = await staff.put(f"/v1/cases/{case_id}/household", json=family)
        assert updated.status_code == 200, updated.text
        body = updated.json()
        assert [m["minor"] for m in body["members"]] == [False, True, True]
        assert body["bsn"] is not None
        assert body["bsn"] != BSN  # masked (R15)
        assert (body["language"], body["mail_address"]) == ("fy", "Postbus 12, 8900 AA Leeuwarden")
        case = (await staff.get(f"/v1/cases/{case_id}")).json()
        assert (case["has_minors"], case["priority"]) == (True, "highest")
        assert "child_rights_assessment:2026-04-20" in await open_tasks(sessions, case_id)  # R10 at once

        read = (await staff.get(f"/v1/cases/{case_id}/household")).json()
        assert read == body
        assessed = await staff.post(f"/v1/cases/{case_id}/child-assessments", json=ASSESSMENT)
        assert assessed.status_code == 201, assessed.text
        assert "child_rights_assessment:2026-04-20" not in await open_tasks(sessions, case_id)

    async with case_api_client(roles=("policy_analyst",), team=None, statistics_min_cell=1) as analyst:
        stats = await analyst.get(
            "/v1/statistics/children", params={"period": "year", "from": "2026-01-01", "to": "2026-12-31"}
        )
    assert stats.status_code == 200, stats.text
    assert sum(row["threatened"]["value"] or 0 for row in stats.json()["rows"]) == 2  # R12

    published = await events(sessions, case_id, "household.updated")
    assert published == [
        {
            "household_id": published[0]["household_id"],
            "has_minors": True,
            "priority": "highest",
            "language": "fy",
            "reachable_channels": ["email", "letter", "phone", "sms"],
            "changed": ["mail_address", "contact", "preferred_channel", "language", "bsn", "members"],
        }
    ]
    async with sessions() as session:
        raw = [
            bytes(row.payload).decode() if not isinstance(row.payload, str) else row.payload
            for row in await session.scalars(select(OutboxRecord).where(OutboxRecord.key == case_id))
        ]
    for text in ("Kind1", "0687654321", "fam.testhuis", "Postbus", BSN, "2021-05-01"):
        assert not any(text in payload for payload in raw), text

    async with case_api_client(roles=("outreach_worker",)) as staff:
        removed = await staff.put(f"/v1/cases/{case_id}/household", json={**family, "members": household["members"]})
        assert removed.status_code == 200, removed.text
        case = (await staff.get(f"/v1/cases/{case_id}")).json()
    assert (case["has_minors"], case["priority"]) == (False, "normal")
    assert (await events(sessions, case_id, "household.updated"))[-1]["has_minors"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bsn": "123456789"}, "bsn"),
        ({"mobile": "12345"}, "mobile"),
        ({"members": []}, "members"),
        ({"members": [{"role": "child", "birth_date": "not-a-date"}]}, "birth_date"),
        ({"language": "xx"}, "language"),
    ],
)
async def test_bad_household_input_names_the_field(
    case_api_client: Client, sessions: Sessions, change: dict[str, object], field: str
) -> None:
    case_id, household = await partner_opened_case(case_api_client)
    async with case_api_client(roles=("outreach_worker",)) as staff:
        refused = await staff.put(f"/v1/cases/{case_id}/household", json={**household, **change})
    assert refused.status_code in (400, 422), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert field in json.dumps(refused.json())
    assert await events(sessions, case_id, "household.updated") == []


async def test_the_gateways_service_role_does_not_change_a_household(case_api_client: Client) -> None:
    case_id, household = await partner_opened_case(case_api_client)
    async with case_api_client(**GATEWAY) as gateway:
        refused = await gateway.put(f"/v1/cases/{case_id}/household", json=household)
    assert refused.status_code == 403, refused.text
