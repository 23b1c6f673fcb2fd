"""Requests to the case's partners and its contact person (contract.md, "What each partner kind may receive"):
a request to postpone with a grounds category (R10 at T-2: recording it completes the team lead's task in the
same transaction), a request to offer a second-chance agreement, the contact person for the bailiff. Each is an
event without personal data; a request's note and the contact person's name stay in case-api."""

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any

import httpx
import pytest
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.audit.models import Operation, ProcessingLogEntry
from case_api.cases.models import Stage
from case_api.config import Settings
from case_api.context import Context
from case_api.db import OutboxRecord
from case_api.deadlines.calendar import WorkingDayCalendar
from case_api.deadlines.rules import CaseFacts, Norms, desired_tasks
from case_api.partner_requests.models import ContactPerson, SecondChanceRequest
from case_api.retention.service import RETENTION_PRINCIPAL, erase_cases
from case_api.tasks.models import Task, TaskKind, TaskStatus
from case_api.workers.deadlines import run_once
from eviction_schemas.envelope import event_type
from eviction_schemas.registry import validate_event
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
D = date.fromisoformat
EVICTION_DATE = "2026-04-20"
NOTE = "Moeder is opgenomen in het ziekenhuis; de kinderen logeren bij oma Testhuis."  # made up, stays inside
CONTACT = {"kind": "caseworker", "name": "A. Proefmedewerker", "work_email": "a.proef@gemeente.example"}


async def open_case(client: httpx.AsyncClient, *, house_number: str, minors: bool = True) -> str:
    household = made_up_household(house_number=house_number, children_born=(date(2015, 6, 1),) if minors else ())
    response = await client.post(
        "/v1/signals", json={"team": "team-noord", "household": household, "signal": made_up_signal()}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def schedule(client: httpx.AsyncClient, case_id: str) -> None:
    response = await client.post(
        f"/v1/cases/{case_id}/eviction/schedule", json={"eviction_date": EVICTION_DATE, "served_on": "2026-03-02"}
    )
    assert response.status_code == 200, response.text


async def events_of(sessions: Sessions, case_id: str, name: str | None = None) -> list[dict[str, Any]]:
    async with sessions() as session:
        query = select(OutboxRecord).where(OutboxRecord.key == case_id).order_by(OutboxRecord.id)
        if name:
            query = query.where(OutboxRecord.event_type == event_type(name))
        return [json.loads(row.payload) for row in await session.scalars(query)]


async def tasks_of(sessions: Sessions, case_id: str) -> dict[str, Task]:
    async with sessions() as session:
        return {task.purpose: task for task in await session.scalars(select(Task).where(Task.case_id == case_id))}


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


def assert_problem(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    named = problem.get("field") or " ".join(error["field"] for error in problem.get("errors", []))
    assert field in named, problem
    return problem


def test_r10_a_recorded_request_to_postpone_satisfies_the_team_lead_s_task() -> None:
    facts = CaseFacts(stage=Stage.eviction_scheduled, has_minors=True, eviction_date=D(EVICTION_DATE))
    calendar, norms, t_minus_2 = WorkingDayCalendar(), Norms(), D("2026-04-16")

    def request(facts: CaseFacts) -> tuple[bool, bool]:
        tasks = desired_tasks(facts, today=t_minus_2, calendar=calendar, norms=norms)
        [task] = [task for task in tasks if task.kind is TaskKind.request_postponement]
        return task.satisfied, task.create

    assert request(facts) == (False, True)
    assert request(CaseFacts(**{**facts.__dict__, "postponement_requested": True})) == (True, True)


async def test_r10_asking_the_corporation_to_postpone_completes_the_request_postponement_task_at_once(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, house_number="301")
        await schedule(client, case_id)
    clock.set(clock.now().replace(year=2026, month=4, day=16, hour=8))  # T-2: the team lead is asked to request it
    await run_once(sessions, settings_for(case_api_db), clock)
    task = (await tasks_of(sessions, case_id))[f"request_postponement:{EVICTION_DATE}"]
    assert (task.status, task.assignee_role.value) == (TaskStatus.open, "team_lead")

    async with case_api_client() as client:
        answer = await client.post(
            f"/v1/cases/{case_id}/postponement-requests",
            json={
                "recipients": ["housing_corporation", "bailiff"],
                "grounds_category": "child_rights_assessment_pending",
                "note": NOTE,
            },
        )
        assert answer.status_code == 201, answer.text
        listed = (await client.get(f"/v1/cases/{case_id}/partner-requests")).json()

    made = answer.json()
    assert (made["recipients"], made["grounds_category"], made["eviction_date"], made["note"]) == (
        ["housing_corporation", "bailiff"],
        "child_rights_assessment_pending",
        EVICTION_DATE,
        NOTE,
    )
    assert [r["id"] for r in listed["postponement_requests"]] == [made["id"]]
    # Completed in the request's own transaction, not by the worker later.
    task = (await tasks_of(sessions, case_id))[f"request_postponement:{EVICTION_DATE}"]
    assert task.status is TaskStatus.completed
    events = await events_of(sessions, case_id)
    names = [event["type"].removeprefix("nl.eviction-prevention.") for event in events]
    assert names[-2:] == ["postponement.requested", "task.completed"]
    [requested] = [event for event in events if event["type"].endswith(".postponement.requested")]
    validate_event(requested)
    assert requested["data"] == {
        "request_id": made["id"],
        "recipients": ["housing_corporation", "bailiff"],
        "grounds_category": "child_rights_assessment_pending",
        "eviction_date": EVICTION_DATE,
        "requested_on": "2026-04-16",
    }
    assert "ziekenhuis" not in json.dumps(events), "the note never leaves case-api"
    assert events[-1]["data"]["task_id"] == task.id


async def test_a_request_to_the_bailiff_only_leaves_the_task_to_ask_the_corporation_open(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, house_number="302")
        await schedule(client, case_id)
    clock.set(clock.now().replace(year=2026, month=4, day=16, hour=8))
    async with case_api_client() as client:
        answer = await client.post(
            f"/v1/cases/{case_id}/postponement-requests",
            json={"recipients": ["bailiff"], "grounds_category": "no_sleeping_place_for_children"},
        )
        assert answer.status_code == 201, answer.text
    await run_once(sessions, settings_for(case_api_db), clock)
    assert (await tasks_of(sessions, case_id))[f"request_postponement:{EVICTION_DATE}"].status is TaskStatus.open


async def test_a_request_to_postpone_needs_a_scheduled_eviction_and_names_the_field_it_refuses(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, house_number="303", minors=False)
        body = {"recipients": ["housing_corporation"], "grounds_category": "support_in_progress"}
        refused = await client.post(f"/v1/cases/{case_id}/postponement-requests", json=body)
        assert refused.status_code == 409, refused.text
        assert "request_second_chance" in refused.json()["allowed_actions"]
        await schedule(client, case_id)
        twice = {**body, "recipients": ["bailiff", "bailiff"]}
        assert_problem(await client.post(f"/v1/cases/{case_id}/postponement-requests", json=twice), 422, "recipients")
        unknown = {**body, "grounds_category": "illness"}
        assert_problem(
            await client.post(f"/v1/cases/{case_id}/postponement-requests", json=unknown), 400, "grounds_category"
        )
        none = {**body, "recipients": []}
        assert_problem(await client.post(f"/v1/cases/{case_id}/postponement-requests", json=none), 400, "recipients")
    assert await events_of(sessions, case_id, "postponement.requested") == []


async def test_a_request_for_a_second_chance_agreement_is_an_event_without_its_note(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, house_number="304")
        answer = await client.post(f"/v1/cases/{case_id}/second-chance-requests", json={"note": NOTE})
        assert answer.status_code == 201, answer.text
        closed = await open_case(client, house_number="305")
        assert (
            await client.post(f"/v1/cases/{closed}/close", json={"outcome_code": "no_help_wanted"})
        ).status_code == 200
        late = await client.post(f"/v1/cases/{closed}/second-chance-requests", json={})
        assert late.status_code == 409, late.text
        listed = (await client.get(f"/v1/cases/{case_id}/partner-requests")).json()
    [event] = await events_of(sessions, case_id, "second-chance.requested")
    validate_event(event)
    assert event["data"] == {"request_id": answer.json()["id"], "requested_on": "2026-03-02"}
    assert [r["note"] for r in listed["second_chance_requests"]] == [NOTE]


async def test_the_contact_person_is_read_by_the_gateway_at_send_time_and_only_its_kind_is_an_event(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, house_number="306")
        assert_problem(await client.get(f"/v1/cases/{case_id}/contact-person"), 404, "case_id")
        unreachable = {"kind": "team", "name": "Gebiedsteam Noord"}
        assert_problem(await client.put(f"/v1/cases/{case_id}/contact-person", json=unreachable), 422, "work_email")
        put = await client.put(f"/v1/cases/{case_id}/contact-person", json=CONTACT)
        assert put.status_code == 200, put.text
        team = {"kind": "team", "name": "Gebiedsteam Noord", "work_phone": "058 123 4567"}
        assert (await client.put(f"/v1/cases/{case_id}/contact-person", json=team)).status_code == 200
        noted = await client.post(f"/v1/cases/{case_id}/second-chance-requests", json={"note": NOTE})
        assert noted.status_code == 201, noted.text
    async with case_api_client(roles=("partner_gateway",), team=None) as gateway:
        read = await gateway.get(f"/v1/cases/{case_id}/contact-person")
        assert read.status_code == 200, read.text
    async with case_api_client(team="team-zuid") as other_team:
        assert_problem(await other_team.get(f"/v1/cases/{case_id}/contact-person"), 404, "case_id")

    assert {key: read.json()[key] for key in ("kind", "name", "work_email", "work_phone")} == {
        "kind": "team",
        "name": "Gebiedsteam Noord",
        "work_email": None,
        "work_phone": "058 123 4567",
    }
    events = await events_of(sessions, case_id, "contact-person.assigned")
    for event in events:
        validate_event(event)
    assert [event["data"] for event in events] == [
        {"contact_kind": "caseworker", "assigned_on": "2026-03-02"},
        {"contact_kind": "team", "assigned_on": "2026-03-02"},
    ]
    text = json.dumps(await events_of(sessions, case_id))
    for never in ("Proefmedewerker", "a.proef@gemeente.example", "Gebiedsteam", "058 123 4567"):
        assert never not in text
    async with sessions() as session:
        reads = (
            await session.scalars(
                select(ProcessingLogEntry).where(
                    ProcessingLogEntry.case_id == case_id,
                    ProcessingLogEntry.actor == "caseworker-1",
                    ProcessingLogEntry.operation == Operation.read,
                    ProcessingLogEntry.actor_roles == "partner_gateway",
                )
            )
        ).all()
    assert len(reads) == 1

    # R18: the notes go and the contact person is forgotten with the case's personal data.
    async with sessions() as session, session.begin():
        ctx = Context(session=session, settings=settings_for(case_api_db), clock=clock, principal=RETENTION_PRINCIPAL)
        await erase_cases(ctx, [case_id])
    async with sessions() as session:
        assert await session.get(ContactPerson, case_id) is None
        request = await session.get(SecondChanceRequest, noted.json()["id"])
        assert request is not None
        assert request.note is None
