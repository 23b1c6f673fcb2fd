"""POST /v1/cases/{case_id}/tasks: the notifier's human channel. A caseworker task to visit or call the
household, one per notification (a repeat answers the first task, 200), due the next working day, for the
outreach workers, with task.created; refused with problem details naming the field."""

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from case_api_fixtures import TEAM, bearer, made_up_household, made_up_signal
from conftest import T0, case_api_settings, serve
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.audit.models import Operation, ProcessingLogEntry
from case_api.context import Context
from case_api.db import OutboxRecord
from case_api.retention.service import RETENTION_PRINCIPAL, erase_cases
from case_api.tasks.models import Task
from devinfra.devkey import DevKey
from eviction_schemas.envelope import event_type
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def notifier(case_api_db: str, clock: FixedClock, dev_key: DevKey) -> AsyncIterator[httpx.AsyncClient]:
    headers = bearer(dev_key, "notifier", team=None, subject="notifier")
    async with serve(case_api_settings(case_api_db, dev_key), clock, headers) as client:
        yield client


async def open_case(client: httpx.AsyncClient) -> str:
    household = made_up_household(
        postcode=f"{1000 + uuid.uuid4().int % 9000} NT", house_number=str(1 + uuid.uuid4().int % 10**8)
    )
    response = await client.post("/v1/signals", json={"team": TEAM, "household": household, "signal": made_up_signal()})
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


def task_request(**overrides: object) -> dict[str, object]:
    return {
        "kind": "home_visit",
        "notification_id": str(uuid.uuid4()),
        "moment": "M4",
        "reason": "M4: no written channel reaches the household; visit before the eviction date.",
        **overrides,
    }


async def events_of(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord)
            .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
            .order_by(OutboxRecord.id)
        )
        return [json.loads(row.payload)["data"] for row in rows]


async def tasks_of(sessions: Sessions, case_id: str) -> list[Task]:
    async with sessions() as session:
        return list((await session.scalars(select(Task).where(Task.case_id == case_id))).all())


async def test_the_notifier_asks_for_a_home_visit_due_the_next_working_day(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    body = task_request()

    response = await notifier.post(f"/v1/cases/{case_id}/tasks", json=body)

    assert response.status_code == 201, response.text
    task = response.json()
    assert {key: task[key] for key in ("case_id", "kind", "purpose", "rule", "due_date", "assignee_role")} == {
        "case_id": case_id,
        "kind": "home_visit",
        "purpose": f"notification:{body['notification_id']}",
        "rule": "M4",
        "due_date": "2026-03-03",  # T0 is Monday 2 March 2026
        "assignee_role": "outreach_worker",
    }
    assert (task["status"], task["escalation_level"], task["reason"]) == ("open", 0, body["reason"])
    assert await events_of(sessions, case_id, "task.created") == [
        {"task_id": task["id"], "task_kind": "home_visit", "due_date": "2026-03-03", "assignee_role": "outreach_worker"}
    ]
    async with sessions() as session:
        query = select(ProcessingLogEntry).where(ProcessingLogEntry.case_id == case_id).order_by(ProcessingLogEntry.id)
        entry = (await session.scalars(query)).all()[-1]
    assert (entry.actor, entry.activity, entry.operation, entry.at) == (
        "notifier",
        "informing-the-household",
        Operation.write,
        T0,
    )
    async with case_api_client() as caseworker:  # the team sees it among the case's tasks
        listed = (await caseworker.get(f"/v1/cases/{case_id}/tasks")).json()
    assert [(t["id"], t["kind"], t["reason"]) for t in listed] == [(task["id"], "home_visit", body["reason"])]


async def test_a_repeated_request_answers_the_first_task_with_200_and_creates_nothing(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    body = task_request(kind="call", moment="M2")

    first = await notifier.post(f"/v1/cases/{case_id}/tasks", json=body)
    again = await notifier.post(f"/v1/cases/{case_id}/tasks", json=body)
    keyed = await notifier.post(f"/v1/cases/{case_id}/tasks", json=body, headers={"Idempotency-Key": "k-1"})
    replayed = await notifier.post(f"/v1/cases/{case_id}/tasks", json=body, headers={"Idempotency-Key": "k-1"})

    assert (first.status_code, again.status_code, keyed.status_code) == (201, 200, 200)
    assert (replayed.status_code, replayed.headers["Idempotency-Replayed"]) == (200, "true")
    assert first.json()["id"] == again.json()["id"] == keyed.json()["id"] == replayed.json()["id"]
    assert len(await tasks_of(sessions, case_id)) == 1
    assert len(await events_of(sessions, case_id, "task.created")) == 1


async def test_the_same_notification_with_another_kind_or_moment_is_409(
    case_api_client: Client, notifier: httpx.AsyncClient
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    body = task_request()
    created = await notifier.post(f"/v1/cases/{case_id}/tasks", json=body)

    other_kind = await notifier.post(f"/v1/cases/{case_id}/tasks", json={**body, "kind": "call"})
    other_moment = await notifier.post(f"/v1/cases/{case_id}/tasks", json={**body, "moment": "M7"})

    for refused in (other_kind, other_moment):
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert (refused.json()["field"], refused.json()["task_id"]) == ("notification_id", created.json()["id"])


async def test_two_notifications_make_two_tasks(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    for moment in ("M4", "M7"):
        response = await notifier.post(f"/v1/cases/{case_id}/tasks", json=task_request(moment=moment))
        assert response.status_code == 201
    assert sorted(task.rule for task in await tasks_of(sessions, case_id)) == ["M4", "M7"]


async def test_due_is_the_next_working_day_after_weekends_and_holidays(
    case_api_client: Client, notifier: httpx.AsyncClient, clock: FixedClock
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    # Thursday 2 April 2026, 23:30 in Amsterdam (Friday 3 April, Goede Vrijdag, is a working day by default).
    clock.set(datetime(2026, 4, 2, 21, 30, tzinfo=UTC))
    friday = await notifier.post(f"/v1/cases/{case_id}/tasks", json=task_request())
    # Friday 3 April: the next working day is Tuesday 7 April (Easter Monday is a holiday).
    clock.set(datetime(2026, 4, 3, 12, 0, tzinfo=UTC))
    tuesday = await notifier.post(f"/v1/cases/{case_id}/tasks", json=task_request())
    assert (friday.json()["due_date"], tuesday.json()["due_date"]) == ("2026-04-03", "2026-04-07")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "letter"}, "kind"),
        ({"kind": "first_contact"}, "kind"),
        ({"notification_id": "not-a-uuid"}, "notification_id"),
        ({"moment": "M10"}, "moment"),
        ({"moment": "m4"}, "moment"),
        ({"reason": ""}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": None}, "reason"),
        ({"channel": "sms"}, "channel"),
    ],
    ids=["letter", "rule-kind", "uuid", "M10", "lowercase", "empty-reason", "long-reason", "null-reason", "extra"],
)
async def test_a_bad_body_is_400_naming_the_field(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions, change: dict[str, object], field: str
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    response = await notifier.post(f"/v1/cases/{case_id}/tasks", json=task_request(**change))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert response.json()["detail"].startswith(f"{field}: ")
    assert await tasks_of(sessions, case_id) == []


async def test_a_missing_field_is_named(case_api_client: Client, notifier: httpx.AsyncClient) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    body = task_request()
    del body["notification_id"]
    response = await notifier.post(f"/v1/cases/{case_id}/tasks", json=body)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "notification_id", "message": "Field required", "type": "missing", "pointer": "#/notification_id"}
    ]


@pytest.mark.parametrize(("roles", "team"), [(("outreach_worker",), TEAM), (("partner_gateway",), None)])
async def test_only_the_notifier_and_admins_create_these_tasks(
    case_api_client: Client, sessions: Sessions, roles: tuple[str, ...], team: str | None
) -> None:
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
    async with case_api_client(roles=roles, team=team) as other:
        refused = await other.post(f"/v1/cases/{case_id}/tasks", json=task_request())
    async with case_api_client(roles=("admin",), team=None) as admin:
        allowed = await admin.post(f"/v1/cases/{case_id}/tasks", json=task_request())
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert allowed.status_code == 201
    assert len(await tasks_of(sessions, case_id)) == 1


async def test_unknown_closed_and_erased_cases_are_refused(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions, case_api_db: str, clock: FixedClock
) -> None:
    unknown = await notifier.post(f"/v1/cases/{uuid.uuid4()}/tasks", json=task_request())
    async with case_api_client() as caseworker:
        case_id = await open_case(caseworker)
        body = task_request()
        assert (await notifier.post(f"/v1/cases/{case_id}/tasks", json=body)).status_code == 201
        closing = await caseworker.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert closing.status_code == 200
    closed = await notifier.post(f"/v1/cases/{case_id}/tasks", json=task_request())
    repeat_after_closing = await notifier.post(f"/v1/cases/{case_id}/tasks", json=body)
    async with sessions() as session, session.begin():
        settings = case_api_settings(case_api_db)
        await erase_cases(
            Context(session=session, settings=settings, clock=clock, principal=RETENTION_PRINCIPAL), [case_id]
        )
    erased = await notifier.post(f"/v1/cases/{case_id}/tasks", json=task_request())

    assert (unknown.status_code, unknown.json()["field"]) == (404, "case_id")
    assert (closed.status_code, closed.json()["field"]) == (409, "case_id")
    assert repeat_after_closing.status_code == 200  # the task made before closing is still the answer
    assert (erased.status_code, erased.json()["type"]) == (410, "http://case-api/problems/gone")
    [task] = await tasks_of(sessions, case_id)
    assert task.reason is None  # erased with the case's personal data (R18)
