"""R17: every read and every change of personal data is logged: who (actor and roles), which processing
activity, which case, when, with the W3C trace id of the request; admins read the log."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
from case_api_fixtures import made_up_household, made_up_signal
from conftest import T0
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.audit.models import Operation, ProcessingLogEntry

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


def traceparent(span: str) -> dict[str, str]:
    return {"traceparent": f"00-{TRACE_ID}-{span}-01"}


async def entries_of(sessions: Sessions, case_id: str) -> list[ProcessingLogEntry]:
    async with sessions() as session:
        query = select(ProcessingLogEntry).where(ProcessingLogEntry.case_id == case_id).order_by(ProcessingLogEntry.id)
        return list((await session.scalars(query)).all())


async def test_r17_a_write_is_logged_with_actor_roles_activity_case_time_and_trace_id(
    case_api_client: Client, sessions: Sessions
) -> None:
    body = {"team": "team-noord", "household": made_up_household(postcode="8951 AA"), "signal": made_up_signal()}
    async with case_api_client() as client:
        opened = await client.post("/v1/signals", json=body, headers=traceparent("b7ad6b7169203331"))
    case_id = opened.json()["case_id"]
    [entry] = await entries_of(sessions, case_id)
    assert entry.operation is Operation.write
    assert entry.actor == "caseworker-1"
    assert entry.actor_roles == "team_lead"
    assert entry.activity == "case-file"
    assert entry.at == T0
    assert entry.trace_id == TRACE_ID


async def test_r17_every_read_and_write_of_a_case_is_logged(case_api_client: Client, sessions: Sessions) -> None:
    body = {"team": "team-noord", "household": made_up_household(postcode="8952 AA"), "signal": made_up_signal()}
    async with case_api_client() as client:
        case_id = (await client.post("/v1/signals", json=body)).json()["case_id"]
        await client.get(f"/v1/cases/{case_id}", headers=traceparent("1111111111111111"))
        await client.post(f"/v1/cases/{case_id}/contact-attempts", json={"channel": "sms", "reached": False})
        await client.get(f"/v1/cases/{case_id}/timeline", headers=traceparent("2222222222222222"))
        await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
    logged = [(entry.activity, entry.operation) for entry in await entries_of(sessions, case_id)]
    assert logged == [
        ("case-file", Operation.write),  # opened from the signal
        ("case-file", Operation.read),
        ("case-file", Operation.write),  # contact attempt
        ("case-timeline", Operation.read),
        ("case-file", Operation.write),  # closed
    ]
    reads = [entry for entry in await entries_of(sessions, case_id) if entry.operation is Operation.read]
    assert {entry.trace_id for entry in reads} == {TRACE_ID}


async def test_r17_admins_read_the_processing_log_of_a_case_a_page_at_a_time(case_api_client: Client) -> None:
    body = {"team": "team-noord", "household": made_up_household(postcode="8953 AA"), "signal": made_up_signal()}
    async with case_api_client() as client:
        case_id = (await client.post("/v1/signals", json=body)).json()["case_id"]
        await client.get(f"/v1/cases/{case_id}")
        await client.get(f"/v1/cases/{case_id}/timeline")
        refused = await client.get("/v1/processing-log", params={"caseId": case_id})
    assert refused.status_code == 403
    async with case_api_client(roles=("admin",), team=None) as admin:
        first = (await admin.get("/v1/processing-log", params={"caseId": case_id, "limit": 2})).json()
        rest = (await admin.get("/v1/processing-log", params={"caseId": case_id, "after": first["next_after"]})).json()
    assert [item["operation"] for item in first["items"]] == ["write", "read"]
    assert [item["activity"] for item in rest["items"]] == ["case-timeline"]
    assert rest["next_after"] is None
    assert {item["case_id"] for item in first["items"] + rest["items"]} == {case_id}


async def test_r17_a_policy_analyst_cannot_read_the_processing_log(case_api_client: Client) -> None:
    async with case_api_client(roles=("policy_analyst",), team=None) as analyst:
        response = await analyst.get("/v1/processing-log")
    assert response.status_code == 403
