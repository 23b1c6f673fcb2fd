"""The case timeline: the case's events in sequence order, a page at a time, nothing personal (R15), and
the read written in the processing log (R17)."""

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.audit.models import Operation, ProcessingLogEntry

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]


async def open_worked_case(client: httpx.AsyncClient, postcode: str) -> str:
    body = {"team": "team-noord", "household": made_up_household(postcode=postcode), "signal": made_up_signal()}
    opened = await client.post("/v1/signals", json=body)
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    attempt = await client.post(f"/v1/cases/{case_id}/contact-attempts", json={"channel": "phone", "reached": True})
    assert attempt.status_code == 201, attempt.text
    return case_id


async def test_the_timeline_lists_the_case_events_in_sequence_order(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_worked_case(client, "8941 AA")
        timeline = await client.get(f"/v1/cases/{case_id}/timeline")
    assert timeline.status_code == 200, timeline.text
    items = timeline.json()["items"]
    assert [item["event"] for item in items] == ["case.opened", "signal.received", "contact.attempted"]
    assert [item["sequence"] for item in items] == [1, 2, 3]
    assert items[0]["type"] == "nl.eviction-prevention.case.opened"
    assert items[0]["data"]["case_id"] == case_id
    assert timeline.json()["next_after"] is None


async def test_the_timeline_is_paginated_by_sequence(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_worked_case(client, "8942 AA")
        first = (await client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 2})).json()
        rest = (await client.get(f"/v1/cases/{case_id}/timeline", params={"after": first["next_after"]})).json()
    assert [item["sequence"] for item in first["items"]] == [1, 2]
    assert first["next_after"] == 2
    assert [item["sequence"] for item in rest["items"]] == [3]
    assert rest["next_after"] is None


async def test_r15_the_timeline_holds_no_personal_data(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_worked_case(client, "8943 AA")
        text = json.dumps((await client.get(f"/v1/cases/{case_id}/timeline")).json())
    for personal in ("Testhuis", "Jelle", "Proefstraat", "8943", "0612345678", "example.invalid", "1234.56"):
        assert personal not in text


async def test_r17_reading_the_timeline_is_logged(case_api_client: Client, sessions: Sessions) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with case_api_client() as client:
        case_id = await open_worked_case(client, "8944 AA")
        await client.get(f"/v1/cases/{case_id}/timeline", headers={"traceparent": traceparent})
    async with sessions() as session:
        entries = (
            await session.scalars(
                select(ProcessingLogEntry).where(
                    ProcessingLogEntry.case_id == case_id, ProcessingLogEntry.activity == "case-timeline"
                )
            )
        ).all()
    assert [(entry.operation, entry.trace_id) for entry in entries] == [
        (Operation.read, "4bf92f3577b34da6a3ce929d0e0e4736")
    ]


async def test_r16_the_timeline_of_another_teams_case_is_not_found(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_worked_case(client, "8945 AA")
    async with case_api_client(roles=("outreach_worker",), team="team-zuid") as other:
        response = await other.get(f"/v1/cases/{case_id}/timeline")
    assert response.status_code == 404
