"""The legal track and the eviction over HTTP on PostgreSQL: summons and judgment, an eviction date with its
history, postponement (R7), cancellation, averting and execution (R11), each with its event, and every task
recomputed in the same transaction when the date moves."""

import json
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any

import httpx
import pytest
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.cases.models import Case, RehousingOutcome
from case_api.db import OutboxRecord
from case_api.tasks.models import Task, TaskStatus
from eviction_schemas.envelope import event_type

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]


async def open_case(client: httpx.AsyncClient, *, minors: bool = True) -> str:
    household = made_up_household(
        house_number=str(random.randint(1, 999_999)), children_born=(date(2015, 6, 1),) if minors else ()
    )
    response = await client.post(
        "/v1/signals", json={"team": "team-noord", "household": household, "signal": made_up_signal()}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def events_of(sessions: Sessions, case_id: str, *names: str) -> list[tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxRecord).where(OutboxRecord.key == case_id).order_by(OutboxRecord.id))
        wanted = {event_type(name): name for name in names}
        return [(wanted[row.event_type], json.loads(row.payload)["data"]) for row in rows if row.event_type in wanted]


async def tasks_of(sessions: Sessions, case_id: str) -> dict[str, Task]:
    async with sessions() as session:
        return {task.purpose: task for task in await session.scalars(select(Task).where(Task.case_id == case_id))}


async def schedule(client: httpx.AsyncClient, case_id: str, eviction_date: str = "2026-04-20") -> httpx.Response:
    return await client.post(
        f"/v1/cases/{case_id}/eviction/schedule",
        json={"eviction_date": eviction_date, "served_on": "2026-03-02", "bailiff_reference": "DW-2026-17"},
    )


async def test_a_summons_and_a_judgment_threaten_the_eviction_and_publish_their_events(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        summons = await client.post(
            f"/v1/cases/{case_id}/legal-steps",
            json={
                "kind": "summons_served",
                "occurred_on": "2026-02-26",
                "court_reference": "C/17/123456",
                "hearing_date": "2026-03-19",
            },
        )
        assert summons.status_code == 201, summons.text
        assert (await client.get(f"/v1/cases/{case_id}")).json()["stage"] == "eviction_threatened"
        judgment = await client.post(
            f"/v1/cases/{case_id}/legal-steps",
            json={
                "kind": "judgment_given",
                "occurred_on": "2026-03-02",
                "court_reference": "C/17/123456",
                "eviction_granted": True,
            },
        )
        assert judgment.status_code == 201, judgment.text
        steps = (await client.get(f"/v1/cases/{case_id}/legal-steps")).json()
    assert [step["kind"] for step in steps] == ["summons_served", "judgment_given"]
    assert await events_of(sessions, case_id, "legal.summons-served", "legal.judgment-given") == [
        (
            "legal.summons-served",
            {"served_on": "2026-02-26", "court_reference": "C/17/123456", "hearing_date": "2026-03-19"},
        ),
        (
            "legal.judgment-given",
            {"given_on": "2026-03-02", "court_reference": "C/17/123456", "eviction_granted": True},
        ),
    ]
    # R5: the threat makes the first contact due within 3 working days of the day it was recorded (Monday 2 March).
    assert (await tasks_of(sessions, case_id))["first_contact:R5"].due_date == date(2026, 3, 5)


async def test_an_eviction_requested_by_the_landlord_starts_the_legal_track_with_r5s_first_contact(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=False)
        requested = await client.post(
            f"/v1/cases/{case_id}/legal-steps", json={"kind": "eviction_requested", "occurred_on": "2026-02-27"}
        )
        assert requested.status_code == 201, requested.text
        assert (requested.json()["kind"], requested.json()["court_reference"]) == ("eviction_requested", None)
        case = (await client.get(f"/v1/cases/{case_id}")).json()
        oco = (await client.get(f"/v1/cases/{case_id}/oco")).json()
        # The bailiff's date may come next; a request reported after the date keeps the case where it is.
        assert (await schedule(client, case_id)).status_code == 200
        late = await client.post(
            f"/v1/cases/{case_id}/legal-steps", json={"kind": "eviction_requested", "occurred_on": "2026-03-02"}
        )
        assert late.status_code == 201, late.text
        after = (await client.get(f"/v1/cases/{case_id}")).json()
    assert case["stage"] == "eviction_threatened"
    assert oco["due_moments"] == ["threat_started"]  # R8: the threat started
    assert await events_of(sessions, case_id, "legal.eviction-requested") == [
        ("legal.eviction-requested", {"requested_on": "2026-02-27"}),
        ("legal.eviction-requested", {"requested_on": "2026-03-02"}),
    ]
    # R5: first contact within 3 working days of the day the threat was recorded (Monday 2 March).
    assert (await tasks_of(sessions, case_id))["first_contact:R5"].due_date == date(2026, 3, 5)
    assert after["stage"] == "eviction_scheduled"


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [  # 400: the schema refuses it; 422: a rule of the legal track
        ({"kind": "summons_served", "eviction_granted": True}, "eviction_granted", 422),
        ({"kind": "judgment_given", "hearing_date": "2026-04-01"}, "hearing_date", 422),
        ({"kind": "summons_served", "occurred_on": "2026-03-03"}, "occurred_on", 422),
        ({"kind": "summons_served", "court_reference": "line\nbreak"}, "court_reference", 400),
        ({"kind": "summons_served", "court_reference": None}, "court_reference", 422),
        ({"kind": "eviction_requested"}, "court_reference", 422),
        ({"kind": "eviction_requested", "court_reference": None, "hearing_date": "2026-04-01"}, "hearing_date", 422),
    ],
)
async def test_a_legal_step_with_a_field_of_the_other_kind_or_a_future_date_is_refused(
    case_api_client: Client, body: dict[str, Any], field: str, status: int
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        response = await client.post(
            f"/v1/cases/{case_id}/legal-steps",
            json={"occurred_on": "2026-02-26", "court_reference": "C/17/1", **body},
        )
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem.get("field") == field or problem["errors"][0]["field"] == field


async def test_r6_scheduling_sets_the_date_keeps_the_history_and_creates_the_tasks_at_once(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=True)
        response = await schedule(client, case_id)
        assert response.status_code == 200, response.text
        eviction = (await client.get(f"/v1/cases/{case_id}/eviction")).json()
    assert eviction["stage"] == "eviction_scheduled"
    assert (eviction["eviction_date"], eviction["late_notice"]) == ("2026-04-20", False)
    assert [(c["change"], c["eviction_date"], c["bailiff_reference"]) for c in eviction["history"]] == [
        ("scheduled", "2026-04-20", "DW-2026-17")
    ]
    assert "postpone_eviction" in eviction["allowed_actions"]
    assert await events_of(sessions, case_id, "eviction.scheduled") == [
        ("eviction.scheduled", {"eviction_date": "2026-04-20", "late_notice": False})
    ]
    tasks = await tasks_of(sessions, case_id)
    assert {
        "eviction_assessment:2026-04-20",
        "eviction_countdown:T-14:2026-04-20",
        "eviction_countdown:T-7:2026-04-20",
        "eviction_countdown:T-2:2026-04-20",
        "child_rights_assessment:2026-04-20",
    } <= set(tasks)


async def test_r7_a_postponement_recomputes_every_task_from_the_new_date(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=True)
        assert (await schedule(client, case_id)).status_code == 200
        old = await tasks_of(sessions, case_id)
        response = await client.post(
            f"/v1/cases/{case_id}/eviction/postpone", json={"eviction_date": "2026-05-11", "served_on": "2026-03-02"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["eviction_date"] == "2026-05-11"
        assert [change["change"] for change in response.json()["history"]] == ["scheduled", "postponed"]
    tasks = await tasks_of(sessions, case_id)
    for purpose in old:
        if purpose.endswith(":2026-04-20"):
            assert tasks[purpose].status is TaskStatus.cancelled, purpose
    new = {purpose: task.due_date.isoformat() for purpose, task in tasks.items() if purpose.endswith(":2026-05-11")}
    assert new == {
        "eviction_assessment:2026-05-11": "2026-05-01",  # 5 May (Bevrijdingsdag) is not a working day
        "eviction_countdown:T-14:2026-05-11": "2026-04-27",
        "eviction_countdown:T-7:2026-05-11": "2026-05-04",
        "eviction_countdown:T-2:2026-05-11": "2026-05-09",
        "child_rights_assessment:2026-05-11": "2026-05-01",
    }
    assert all(tasks[purpose].status is TaskStatus.open for purpose in new)
    created = {data["task_id"] for _, data in await events_of(sessions, case_id, "task.created")}
    assert {tasks[purpose].id for purpose in new} <= created
    assert await events_of(sessions, case_id, "eviction.postponed") == [
        (
            "eviction.postponed",
            {"eviction_date": "2026-05-11", "previous_eviction_date": "2026-04-20", "late_notice": False},
        )
    ]


@pytest.mark.parametrize(("new_date", "late"), [("2026-03-04", True), ("2026-03-05", False)])
async def test_r7_a_postponement_served_fewer_than_3_days_before_the_new_date_is_accepted_and_flagged(
    case_api_client: Client, sessions: Sessions, new_date: str, late: bool
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=False)
        assert (await schedule(client, case_id)).status_code == 200
        response = await client.post(
            f"/v1/cases/{case_id}/eviction/postpone", json={"eviction_date": new_date, "served_on": "2026-03-02"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["late_notice"] is late
        assert response.json()["history"][-1]["late_notice"] is late
    [(_, data)] = await events_of(sessions, case_id, "eviction.postponed")
    assert data["late_notice"] is late


async def test_r7_a_postponement_to_the_same_date_is_refused(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=False)
        assert (await schedule(client, case_id)).status_code == 200
        response = await client.post(
            f"/v1/cases/{case_id}/eviction/postpone", json={"eviction_date": "2026-04-20", "served_on": "2026-03-02"}
        )
    assert response.status_code == 422
    assert response.json()["field"] == "eviction_date"


async def test_a_late_eviction_notice_is_flagged(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=False)
        response = await schedule(client, case_id, "2026-03-03")
        assert response.json()["late_notice"] is True
    assert await events_of(sessions, case_id, "eviction.scheduled") == [
        ("eviction.scheduled", {"eviction_date": "2026-03-03", "late_notice": True})
    ]


async def test_the_bailiff_cancelling_averts_the_case_and_cancels_the_date_tasks(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=True)
        assert (await schedule(client, case_id)).status_code == 200
        response = await client.post(f"/v1/cases/{case_id}/eviction/cancel", json={"reason_code": "landlord_withdrew"})
        assert response.status_code == 200, response.text
        body = response.json()
    assert (body["stage"], body["eviction_date"]) == ("averted", None)
    assert body["history"][-1] == {**body["history"][-1], "change": "cancelled", "previous_eviction_date": "2026-04-20"}
    assert await events_of(sessions, case_id, "eviction.cancelled") == [
        ("eviction.cancelled", {"eviction_date": "2026-04-20", "reason_code": "landlord_withdrew"})
    ]
    tasks = await tasks_of(sessions, case_id)
    assert {task.status for purpose, task in tasks.items() if purpose.endswith("2026-04-20")} == {TaskStatus.cancelled}


async def test_averting_with_a_date_publishes_eviction_cancelled_and_without_a_date_only_moves_the_stage(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        scheduled = await open_case(client, minors=False)
        assert (await schedule(client, scheduled)).status_code == 200
        response = await client.post(
            f"/v1/cases/{scheduled}/eviction/avert", json={"reason_code": "payment_arrangement"}
        )
        assert response.status_code == 200, response.text
        threatened = await open_case(client, minors=False)
        summons = await client.post(
            f"/v1/cases/{threatened}/legal-steps",
            json={"kind": "summons_served", "occurred_on": "2026-02-26", "court_reference": "C/17/9"},
        )
        assert summons.status_code == 201
        response = await client.post(f"/v1/cases/{threatened}/eviction/avert", json={"reason_code": "arrears_paid"})
        assert response.status_code == 200, response.text
        assert response.json()["stage"] == "averted"
        assert [c["change"] for c in response.json()["history"]] == ["averted"]
        refused = await client.post(f"/v1/cases/{threatened}/eviction/avert", json={"reason_code": "moratorium"})
        assert refused.status_code == 409
        wrong_reason = await open_case(client, minors=False)
        await schedule(client, wrong_reason)
        unfit = await client.post(f"/v1/cases/{wrong_reason}/eviction/avert", json={"reason_code": "landlord_withdrew"})
        assert unfit.status_code == 422
        assert unfit.json()["field"] == "reason_code"
    assert await events_of(sessions, scheduled, "eviction.cancelled") == [
        ("eviction.cancelled", {"eviction_date": "2026-04-20", "reason_code": "payment_arrangement"})
    ]
    assert await events_of(sessions, threatened, "eviction.cancelled") == []


async def test_r11_a_family_with_minors_is_not_recorded_evicted_without_a_rehousing_outcome(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=True)
        assert (await schedule(client, case_id, "2026-03-02")).status_code == 200
        refused = await client.post(f"/v1/cases/{case_id}/eviction/execute", json={"executed_on": "2026-03-02"})
        assert refused.status_code == 409, refused.text
        assert refused.json()["rule"] == "R11"
        async with sessions() as session, session.begin():
            await session.execute(
                update(Case).where(Case.id == case_id).values(rehousing_outcome=RehousingOutcome.own_solution)
            )
        executed = await client.post(f"/v1/cases/{case_id}/eviction/execute", json={"executed_on": "2026-03-02"})
        assert executed.status_code == 200, executed.text
        assert executed.json()["stage"] == "evicted"
    assert await events_of(sessions, case_id, "eviction.executed") == [
        ("eviction.executed", {"executed_on": "2026-03-02"})
    ]
    tasks = await tasks_of(sessions, case_id)
    assert {task.status for purpose, task in tasks.items() if purpose.endswith("2026-03-02")} == {TaskStatus.cancelled}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("eviction/postpone", {"eviction_date": "2026-05-11", "served_on": "2026-03-02"}),
        ("eviction/cancel", {"reason_code": "other"}),
        ("eviction/avert", {"reason_code": "arrears_paid"}),
        ("eviction/execute", {"executed_on": "2026-03-02"}),
    ],
)
async def test_an_eviction_step_in_the_wrong_stage_answers_409_naming_the_allowed_actions(
    case_api_client: Client, path: str, body: dict[str, Any]
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=False)
        response = await client.post(f"/v1/cases/{case_id}/{path}", json=body)
    assert response.status_code == 409, response.text
    assert "schedule_eviction" in response.json()["allowed_actions"]


async def test_scheduling_twice_answers_409_and_a_date_before_its_serving_422(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=False)
        past = await client.post(
            f"/v1/cases/{case_id}/eviction/schedule", json={"eviction_date": "2026-03-01", "served_on": "2026-02-20"}
        )
        assert past.status_code == 422
        assert (await schedule(client, case_id)).status_code == 200
        again = await schedule(client, case_id)
    assert again.status_code == 409
    assert "postpone_eviction" in again.json()["allowed_actions"]


async def test_another_teams_case_is_not_found(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=False)
    async with case_api_client(roles=("debt_counsellor",), team="team-zuid") as other:
        assert (await other.get(f"/v1/cases/{case_id}/eviction")).status_code == 404
        assert (await schedule(other, case_id)).status_code == 404
    async with case_api_client(roles=("policy_analyst",), team=None) as analyst:
        assert (await analyst.get(f"/v1/cases/{case_id}/eviction")).status_code == 403
