"""Household goods (R14): stored at the landlord's expense after an eviction, reclaimable, and sold or destroyed
only after the 13 weeks; the household is told at storage, 3 weeks before the end, and at the end.

The legal track belongs to another package: tests put a case in its stage directly in the database."""

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from case_api_fixtures import TEAM, made_up_household, made_up_signal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.belongings.service import BelongingsMessage, message_moments, retention_end
from case_api.cases.models import Case, Stage
from case_api.config import Settings
from case_api.db import OutboxRecord
from eviction_schemas.envelope import event_type
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
STORED = {
    "storage_place": "Gemeentelijk depot Leeuwarden",
    "storage_reference": "DEP-2026-0042",
    "inventory_reference": "PV-2026-0042",
    "stored_on": "2026-03-02",
    "costs": "1450.00",
}


def unique_postcode() -> str:
    return f"{1000 + uuid.uuid4().int % 9000} BE"


def unique_house_number() -> str:
    """With the postcode an address no other test uses: R2 would attach the signal to that case."""
    return str(1 + uuid.uuid4().int % 10**9)


async def case_in(client: httpx.AsyncClient, sessions: Sessions, stage: Stage = Stage.evicted) -> str:
    body = {
        "team": TEAM,
        "household": made_up_household(postcode=unique_postcode(), house_number=unique_house_number()),
        "signal": made_up_signal(),
    }
    response = await client.post("/v1/signals", json=body)
    assert response.status_code == 201, response.text
    case_id = str(response.json()["case_id"])
    async with sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        case.stage = stage
        case.eviction_date = date(2026, 3, 2)
    return case_id


async def events(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord)
            .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
            .order_by(OutboxRecord.id)
        )
        return [json.loads(row.payload)["data"] for row in rows]


async def test_r14_retention_end_is_13_weeks(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        case_id = await case_in(client, sessions)
        stored = await client.post(f"/v1/cases/{case_id}/belongings", json=STORED)
        assert stored.status_code == 201, stored.text
        record = stored.json()
        assert (record["retention_ends_on"], record["paid_by"], record["status"]) == (
            "2026-06-01",
            "landlord",
            "stored",
        )
        assert record["costs"] == "1450.00"
        assert (await client.get(f"/v1/cases/{case_id}")).json()["stage"] == "aftercare"
        listed = (await client.get(f"/v1/cases/{case_id}/belongings")).json()["items"]
        assert [item["id"] for item in listed] == [record["id"]]

    assert await events(sessions, case_id, "belongings.stored") == [
        {"storage_reference": "DEP-2026-0042", "stored_on": "2026-03-02", "retention_ends_on": "2026-06-01"}
    ]


async def test_r14_the_retention_weeks_are_a_setting(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client(belongings_storage_weeks=4) as client:
        case_id = await case_in(client, sessions)
        stored = await client.post(f"/v1/cases/{case_id}/belongings", json={**STORED, "paid_by": "Woningstichting"})
        assert stored.status_code == 201, stored.text
        assert (stored.json()["retention_ends_on"], stored.json()["paid_by"]) == ("2026-03-30", "Woningstichting")


async def test_r14_no_disposal_before_the_end(case_api_client: Client, sessions: Sessions, clock: FixedClock) -> None:
    async with case_api_client() as client:
        case_id = await case_in(client, sessions)
        record = (await client.post(f"/v1/cases/{case_id}/belongings", json=STORED)).json()
        dispose = f"/v1/cases/{case_id}/belongings/{record['id']}/dispose"
        refused = await client.post(dispose, json={"method": "destroyed"})
        assert refused.status_code == 409, refused.text
        assert (refused.json()["field"], refused.json()["rule"]) == ("disposed_on", "R14")
        assert refused.json()["retention_ends_on"] == "2026-06-01"

        clock.set(datetime(2026, 5, 31, 10, 0, tzinfo=UTC))  # the last day of the 13 weeks
        assert (await client.post(dispose, json={"method": "sold"})).status_code == 409
        clock.set(datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
        backdated = await client.post(dispose, json={"method": "sold", "disposed_on": "2026-05-29"})
        assert backdated.status_code == 409
        future = await client.post(dispose, json={"method": "sold", "disposed_on": "2026-06-02"})
        assert future.status_code == 422
        disposed = await client.post(dispose, json={"method": "sold"})
        assert disposed.status_code == 200, disposed.text
        assert (disposed.json()["status"], disposed.json()["disposal_method"]) == ("disposed", "sold")
        again = await client.post(f"/v1/cases/{case_id}/belongings/{record['id']}/return", json={})
        assert again.status_code == 409

    assert await events(sessions, case_id, "belongings.disposed") == [
        {"storage_reference": "DEP-2026-0042", "disposed_on": "2026-06-01", "method": "sold"}
    ]


async def test_r14_the_owner_may_reclaim_the_goods_before_the_end(
    case_api_client: Client, sessions: Sessions, clock: FixedClock
) -> None:
    async with case_api_client() as client:
        case_id = await case_in(client, sessions)
        record = (await client.post(f"/v1/cases/{case_id}/belongings", json=STORED)).json()
        clock.set(datetime(2026, 3, 16, 10, 0, tzinfo=UTC))
        returned = await client.post(f"/v1/cases/{case_id}/belongings/{record['id']}/return", json={})
        assert returned.status_code == 200, returned.text
        assert (returned.json()["status"], returned.json()["returned_on"]) == ("returned", "2026-03-16")
        clock.set(datetime(2026, 6, 2, 10, 0, tzinfo=UTC))
        dispose = await client.post(f"/v1/cases/{case_id}/belongings/{record['id']}/dispose", json={"method": "sold"})
        assert dispose.status_code == 409

    assert await events(sessions, case_id, "belongings.returned") == [
        {"storage_reference": "DEP-2026-0042", "returned_on": "2026-03-16"}
    ]
    assert await events(sessions, case_id, "belongings.disposed") == []


async def test_r14_belongings_are_stored_only_after_an_eviction(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        case_id = await case_in(client, sessions, Stage.eviction_scheduled)
        refused = await client.post(f"/v1/cases/{case_id}/belongings", json=STORED)
        assert refused.status_code == 409, refused.text
        assert "store_belongings" not in refused.json()["allowed_actions"]
        future = await client.post(f"/v1/cases/{case_id}/belongings", json={**STORED, "stored_on": "2026-03-03"})
        assert future.status_code == 409  # the stage is refused before anything else

    assert await events(sessions, case_id, "belongings.stored") == []


def test_r14_the_household_is_told_at_storage_3_weeks_before_the_end_and_at_the_end() -> None:
    settings = Settings(_env_file=None)
    stored_on = date(2026, 3, 2)
    end = retention_end(stored_on, settings)
    assert end == date(2026, 6, 1)
    moments = message_moments(stored_on=stored_on, retention_ends_on=end, settings=settings)
    assert [(moment.message, moment.on) for moment in moments] == [
        (BelongingsMessage.stored, date(2026, 3, 2)),
        (BelongingsMessage.reminder, date(2026, 5, 11)),
        (BelongingsMessage.retention_ended, date(2026, 6, 1)),
    ]
    short = Settings(_env_file=None, belongings_storage_weeks=2)
    short_end = retention_end(stored_on, short)
    short_moments = message_moments(stored_on=stored_on, retention_ends_on=short_end, settings=short)
    assert [moment.message for moment in short_moments] == [BelongingsMessage.stored, BelongingsMessage.retention_ended]
