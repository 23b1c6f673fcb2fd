"""The deadline rules (R4-R7, R10, R14) as pure functions over a fixed table of dates, and the deadline worker
applying them to cases on PostgreSQL with the app's fixed clock moved across days."""

import json
import random
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.belongings.models import BelongingsStatus, StoredBelongings
from case_api.cases.models import Stage
from case_api.children.models import ChildRightsAssessment
from case_api.config import Settings
from case_api.db import OutboxRecord
from case_api.deadlines.calendar import WorkingDayCalendar
from case_api.deadlines.rules import BelongingsFacts, CaseFacts, Norms, desired_tasks
from case_api.tasks.models import Task, TaskStatus
from case_api.workers.deadlines import run_once
from eviction_schemas.envelope import event_type
from service_kit.clock import FixedClock

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
CALENDAR = WorkingDayCalendar()
NORMS = Norms()
D = date.fromisoformat


def wanted(facts: CaseFacts, today: str) -> dict[str, tuple[str, int, bool, bool]]:
    """purpose -> (due date, escalation level today, satisfied, create)."""
    day = D(today)
    return {
        task.purpose: (task.due_date.isoformat(), task.escalation_level(day), task.satisfied, task.create)
        for task in desired_tasks(facts, today=day, calendar=CALENDAR, norms=NORMS)
    }


# --- the rules, pure ------------------------------------------------------------------------------------------


def test_r4_a_friday_signal_gives_first_contact_the_next_friday_and_an_offer_of_help_20_working_days_on() -> None:
    facts = CaseFacts(stage=Stage.signalled, first_signal_on=D("2026-02-27"))  # a Friday
    assert wanted(facts, "2026-03-02") == {
        "first_contact:R4": ("2026-03-06", 0, False, True),
        "offer_of_help:R4": ("2026-03-27", 0, False, True),
    }
    assert wanted(facts, "2026-03-07")["first_contact:R4"][1] == 1  # overdue the day after: escalated once


def test_r4_first_contact_and_support_satisfy_the_r4_tasks() -> None:
    facts = CaseFacts(
        stage=Stage.in_support, first_signal_on=D("2026-02-27"), first_contact_on=D("2026-03-03"), support_started=True
    )
    assert {purpose: task[2] for purpose, task in wanted(facts, "2026-03-04").items()} == {
        "first_contact:R4": True,
        "offer_of_help:R4": True,
    }


@pytest.mark.parametrize(
    ("threatened_on", "due"),
    [
        ("2026-04-24", "2026-04-30"),  # Friday; Monday 27 April is Koningsdag
        ("2026-03-02", "2026-03-05"),  # an ordinary Monday
        ("2026-05-01", "2026-05-07"),  # Friday; Tuesday 5 May is Bevrijdingsdag (every year, Cao Gemeenten)
    ],
)
def test_r5_a_threat_makes_first_contact_due_within_3_working_days(threatened_on: str, due: str) -> None:
    facts = CaseFacts(stage=Stage.eviction_threatened, threatened_on=D(threatened_on))
    assert wanted(facts, threatened_on) == {"first_contact:R5": (due, 0, False, True)}


def test_r6_r7_r10_an_eviction_date_gives_the_assessment_the_countdown_and_the_child_rights_assessment() -> None:
    facts = CaseFacts(stage=Stage.eviction_scheduled, has_minors=True, eviction_date=D("2026-04-20"))
    assert wanted(facts, "2026-03-02") == {
        "eviction_assessment:2026-04-20": ("2026-04-13", 0, False, True),  # 5 working days before (R6)
        "eviction_countdown:T-14:2026-04-20": ("2026-04-06", 0, False, True),  # R7, calendar days
        "eviction_countdown:T-7:2026-04-20": ("2026-04-13", 0, False, True),
        "eviction_countdown:T-2:2026-04-20": ("2026-04-18", 0, False, True),
        "child_rights_assessment:2026-04-20": ("2026-04-13", 0, False, True),  # R10: T-5 working days
    }


@pytest.mark.parametrize(
    ("today", "level", "request_postponement"),
    [
        ("2026-04-10", 0, None),
        ("2026-04-13", 1, None),  # T-5 working days: escalate to the team lead
        ("2026-04-15", 1, None),
        ("2026-04-16", 2, ("2026-04-16", 0, False, True)),  # T-2: again, and ask the corporation to postpone
    ],
)
def test_r10_a_missing_child_rights_assessment_escalates_at_t5_and_at_t2_with_a_request_to_postpone(
    today: str, level: int, request_postponement: tuple[str, int, bool, bool] | None
) -> None:
    facts = CaseFacts(stage=Stage.eviction_scheduled, has_minors=True, eviction_date=D("2026-04-20"))
    tasks = wanted(facts, today)
    assert tasks["child_rights_assessment:2026-04-20"][1] == level
    assert tasks.get("request_postponement:2026-04-20") == request_postponement


def test_r10_a_recorded_assessment_satisfies_it_and_asks_no_postponement() -> None:
    facts = CaseFacts(
        stage=Stage.eviction_scheduled, has_minors=True, eviction_date=D("2026-04-20"), child_assessment_completed=True
    )
    tasks = wanted(facts, "2026-04-16")
    assert tasks["child_rights_assessment:2026-04-20"][2] is True
    assert tasks["request_postponement:2026-04-20"][3] is False  # an earlier request stays; none is created


def test_r6_r7_a_later_date_around_bevrijdingsdag_and_countdown_days_that_passed() -> None:
    facts = CaseFacts(stage=Stage.eviction_scheduled, eviction_date=D("2026-05-11"))
    tasks = wanted(facts, "2026-05-01")
    assert tasks["eviction_assessment:2026-05-11"][0] == "2026-05-01"  # 8, 7, 6, 4 May, 1 May (5 May is off)
    assert tasks["eviction_countdown:T-14:2026-05-11"] == ("2026-04-27", 1, False, False)  # its day passed
    assert tasks["eviction_countdown:T-7:2026-05-11"][3] is True


@pytest.mark.parametrize("stage", [Stage.averted, Stage.evicted, Stage.closed])
def test_r6_eviction_tasks_end_when_the_case_leaves_the_eviction_date(stage: Stage) -> None:
    facts = CaseFacts(stage=stage, has_minors=True, eviction_date=D("2026-04-20"))
    assert wanted(facts, "2026-04-01") == {}


def test_r14_stored_belongings_give_a_reminder_3_weeks_before_the_13_week_end_and_the_end() -> None:
    stored = BelongingsFacts(belongings_id="b1", retention_ends_on=D("2026-06-01"), settled=False)
    facts = CaseFacts(stage=Stage.aftercare, belongings=(stored,))
    assert wanted(facts, "2026-03-02") == {
        "belongings_reminder:b1": ("2026-05-11", 0, False, True),
        "belongings_deadline:b1": ("2026-06-01", 0, False, True),
    }
    settled = CaseFacts(stage=Stage.aftercare, belongings=(BelongingsFacts("b1", D("2026-06-01"), settled=True),))
    assert all(task[2] for task in wanted(settled, "2026-05-12").values())


# --- the worker on PostgreSQL ---------------------------------------------------------------------------------

pytestmark_db = pytest.mark.postgres


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


async def open_case(client: httpx.AsyncClient, *, minors: bool = True, **signal: object) -> str:
    household = made_up_household(
        house_number=str(random.randint(1, 999_999)), children_born=() if not minors else (date(2015, 6, 1),)
    )
    response = await client.post(
        "/v1/signals", json={"team": "team-noord", "household": household, "signal": made_up_signal(**signal)}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def tasks_of(sessions: Sessions, case_id: str) -> dict[str, Task]:
    async with sessions() as session:
        return {task.purpose: task for task in await session.scalars(select(Task).where(Task.case_id == case_id))}


async def events_of(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord)
            .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
            .order_by(OutboxRecord.id)
        )
        return [json.loads(row.payload)["data"] for row in rows]


def at(day: str, hour: int = 8) -> datetime:
    return datetime.combine(D(day), datetime.min.time(), tzinfo=UTC).replace(hour=hour)


@pytestmark_db
async def test_r4_the_worker_creates_the_tasks_of_a_friday_signal_once_however_often_it_runs(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, signal_date="2026-02-27")
    first = await run_once(sessions, settings_for(case_api_db), clock, batch_size=2)  # several batches
    assert first.created >= 2
    again = await run_once(sessions, settings_for(case_api_db), clock)
    assert (again.created, again.escalated, again.completed, again.cancelled) == (0, 0, 0, 0)
    tasks = await tasks_of(sessions, case_id)
    assert {purpose: task.due_date.isoformat() for purpose, task in tasks.items()} == {
        "first_contact:R4": "2026-03-06",
        "offer_of_help:R4": "2026-03-27",
    }
    created = await events_of(sessions, case_id, "task.created")
    assert sorted((event["task_kind"], event["due_date"], event["assignee_role"]) for event in created) == [
        ("first_contact", "2026-03-06", "outreach_worker"),
        ("offer_of_help", "2026-03-27", "outreach_worker"),
    ]


@pytestmark_db
async def test_r4_an_overdue_first_contact_escalates_to_the_team_lead_once_and_completes_on_contact(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    settings = settings_for(case_api_db)
    async with case_api_client() as client:
        case_id = await open_case(client, signal_date="2026-02-27")
        await run_once(sessions, settings, clock)
        clock.set(at("2026-03-06", 22))  # 23:00 in Amsterdam on the due date: not late yet
        await run_once(sessions, settings, clock)
        assert await events_of(sessions, case_id, "task.overdue") == []
        clock.set(at("2026-03-06", 23))  # midnight in Amsterdam: overdue
        await run_once(sessions, settings, clock)
        await run_once(sessions, settings, clock)
        task = (await tasks_of(sessions, case_id))["first_contact:R4"]
        assert await events_of(sessions, case_id, "task.overdue") == [
            {
                "task_id": task.id,
                "task_kind": "first_contact",
                "due_date": "2026-03-06",
                "assignee_role": "outreach_worker",
                "escalated_to": "team_lead",
            }
        ]
        assert task.escalation_level == 1
        response = await client.post(
            f"/v1/cases/{case_id}/contact-attempts", json={"channel": "phone", "reached": True}
        )
        assert response.status_code == 201, response.text
    await run_once(sessions, settings, clock)
    assert (await tasks_of(sessions, case_id))["first_contact:R4"].status is TaskStatus.completed
    assert [event["task_id"] for event in await events_of(sessions, case_id, "task.completed")] == [task.id]


@pytestmark_db
async def test_r5_a_summons_before_koningsdag_makes_first_contact_due_in_3_working_days(
    case_api_client: Client, sessions: Sessions, clock: FixedClock
) -> None:
    clock.set(at("2026-04-24", 9))  # Friday before Koningsdag (Monday 27 April 2026)
    async with case_api_client() as client:
        case_id = await open_case(client, signal_date="2026-04-23")
        response = await client.post(
            f"/v1/cases/{case_id}/legal-steps",
            json={"kind": "summons_served", "occurred_on": "2026-04-22", "court_reference": "C/17/4242"},
        )
        assert response.status_code == 201, response.text
    tasks = await tasks_of(sessions, case_id)  # recomputed at once in the same transaction
    assert tasks["first_contact:R5"].due_date == D("2026-04-30")
    assert tasks["first_contact:R5"].rule == "R5"


@pytestmark_db
async def test_r5_a_crisis_signal_is_a_threatening_situation(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, signal_date="2026-02-27", crisis=True)
    await run_once(sessions, settings_for(case_api_db), clock)
    assert (await tasks_of(sessions, case_id))["first_contact:R5"].due_date == D("2026-03-04")


async def schedule(client: httpx.AsyncClient, case_id: str, eviction_date: str, served_on: str = "2026-03-02") -> None:
    response = await client.post(
        f"/v1/cases/{case_id}/eviction/schedule", json={"eviction_date": eviction_date, "served_on": served_on}
    )
    assert response.status_code == 200, response.text


@pytestmark_db
async def test_r6_the_eviction_assessment_escalates_once_when_overdue(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    settings = settings_for(case_api_db)
    async with case_api_client() as client:
        case_id = await open_case(client, minors=False)
        await schedule(client, case_id, "2026-04-20")
    assessment = (await tasks_of(sessions, case_id))["eviction_assessment:2026-04-20"]
    assert (assessment.due_date, assessment.assignee_role.value) == (D("2026-04-13"), "debt_counsellor")
    clock.set(at("2026-04-14"))
    for _ in range(3):
        await run_once(sessions, settings, clock)
    overdue = [e for e in await events_of(sessions, case_id, "task.overdue") if e["task_id"] == assessment.id]
    assert overdue == [
        {
            "task_id": assessment.id,
            "task_kind": "eviction_assessment",
            "due_date": "2026-04-13",
            "assignee_role": "debt_counsellor",
            "escalated_to": "team_lead",
        }
    ]


@pytestmark_db
async def test_r10_a_missing_child_rights_assessment_escalates_at_t5_then_at_t2_and_asks_to_postpone(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    settings = settings_for(case_api_db)
    async with case_api_client() as client:
        case_id = await open_case(client, minors=True)
        await schedule(client, case_id, "2026-04-20")
    purpose = "child_rights_assessment:2026-04-20"
    clock.set(at("2026-04-10"))
    await run_once(sessions, settings, clock)
    assert (await tasks_of(sessions, case_id))[purpose].escalation_level == 0
    clock.set(at("2026-04-13"))  # T-5 working days
    await run_once(sessions, settings, clock)
    assert (await tasks_of(sessions, case_id))[purpose].escalation_level == 1
    assert "request_postponement:2026-04-20" not in await tasks_of(sessions, case_id)
    clock.set(at("2026-04-16"))  # T-2 working days
    await run_once(sessions, settings, clock)
    await run_once(sessions, settings, clock)
    tasks = await tasks_of(sessions, case_id)
    assert tasks[purpose].escalation_level == 2
    request = tasks["request_postponement:2026-04-20"]
    assert (request.assignee_role.value, request.due_date, request.rule) == ("team_lead", D("2026-04-16"), "R10")
    overdue = [e["task_kind"] for e in await events_of(sessions, case_id, "task.overdue")]
    assert overdue.count("child_rights_assessment") == 2
    created = [e for e in await events_of(sessions, case_id, "task.created") if e["task_id"] == request.id]
    assert created == [
        {
            "task_id": request.id,
            "task_kind": "request_postponement",
            "due_date": "2026-04-16",
            "assignee_role": "team_lead",
        }
    ]


@pytestmark_db
async def test_r10_a_recorded_assessment_completes_the_task_and_no_postponement_is_asked(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    settings = settings_for(case_api_db)
    async with case_api_client() as client:
        case_id = await open_case(client, minors=True)
        await schedule(client, case_id, "2026-04-20")
    async with sessions() as session, session.begin():
        session.add(
            ChildRightsAssessment(
                id=str(uuid.uuid4()),
                case_id=case_id,
                children_situation="made up",
                children_heard=True,
                sleeping_place_after_eviction="made up",
                completed=True,
                recorded_by="caseworker-1",
                recorded_at=clock.now(),
            )
        )
    clock.set(at("2026-04-16"))
    await run_once(sessions, settings, clock)
    tasks = await tasks_of(sessions, case_id)
    assert tasks["child_rights_assessment:2026-04-20"].status is TaskStatus.completed
    assert tasks["child_rights_assessment:2026-04-20"].escalation_level == 0
    assert "request_postponement:2026-04-20" not in tasks


@pytestmark_db
async def test_r14_stored_belongings_get_a_reminder_and_a_deadline_completed_when_returned(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    settings = settings_for(case_api_db)
    async with case_api_client() as client:
        case_id = await open_case(client, minors=False)
    belongings_id = str(uuid.uuid4())
    async with sessions() as session, session.begin():
        session.add(
            StoredBelongings(
                id=belongings_id,
                case_id=case_id,
                storage_place="made-up depot",
                storage_reference="ST-1",
                inventory_reference="INV-1",
                stored_on=D("2026-03-02"),
                retention_ends_on=D("2026-06-01"),
                costs=Decimal("100.00"),
                status=BelongingsStatus.stored,
                recorded_by="caseworker-1",
                recorded_at=clock.now(),
            )
        )
    await run_once(sessions, settings, clock)
    tasks = await tasks_of(sessions, case_id)
    assert tasks[f"belongings_reminder:{belongings_id}"].due_date == D("2026-05-11")
    assert tasks[f"belongings_deadline:{belongings_id}"].due_date == D("2026-06-01")
    async with sessions() as session, session.begin():
        await session.execute(
            update(StoredBelongings)
            .where(StoredBelongings.id == belongings_id)
            .values(status=BelongingsStatus.returned, returned_on=D("2026-03-10"))
        )
    changes = await run_once(sessions, settings, clock)
    assert changes.completed >= 2
    tasks = await tasks_of(sessions, case_id)
    assert {task.status for purpose, task in tasks.items() if purpose.startswith("belongings")} == {
        TaskStatus.completed
    }


@pytestmark_db
async def test_closing_a_case_cancels_its_open_tasks_at_the_next_run_without_events(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    settings = settings_for(case_api_db)
    async with case_api_client() as client:
        case_id = await open_case(client, signal_date="2026-02-27")
        await run_once(sessions, settings, clock)
        response = await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert response.status_code == 200, response.text
    before = len(await events_of(sessions, case_id, "task.completed"))
    await run_once(sessions, settings, clock)
    assert {task.status for task in (await tasks_of(sessions, case_id)).values()} == {TaskStatus.cancelled}
    assert len(await events_of(sessions, case_id, "task.completed")) == before


@pytestmark_db
async def test_closing_a_case_cancels_its_open_tasks_belongings_too_in_the_same_transaction(
    case_api_client: Client, sessions: Sessions, clock: FixedClock, case_api_db: str
) -> None:
    settings = settings_for(case_api_db)
    async with case_api_client() as client:
        case_id = await open_case(client, minors=False, signal_date="2026-02-27")
        belongings_id = str(uuid.uuid4())
        async with sessions() as session, session.begin():
            session.add(
                StoredBelongings(
                    id=belongings_id,
                    case_id=case_id,
                    storage_place="made-up depot",
                    storage_reference="ST-2",
                    inventory_reference="INV-2",
                    stored_on=D("2026-03-02"),
                    retention_ends_on=D("2026-06-01"),
                    costs=Decimal("100.00"),
                    status=BelongingsStatus.stored,
                    recorded_by="caseworker-1",
                    recorded_at=clock.now(),
                )
            )
        await run_once(sessions, settings, clock)
        assert f"belongings_reminder:{belongings_id}" in await tasks_of(sessions, case_id)
        before = len(await events_of(sessions, case_id, "task.completed"))
        response = await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert response.status_code == 200, response.text
    tasks = await tasks_of(sessions, case_id)  # no worker run in between
    assert f"belongings_deadline:{belongings_id}" in tasks
    assert {task.status for task in tasks.values()} == {TaskStatus.cancelled}
    assert len(await events_of(sessions, case_id, "task.completed")) == before


@pytestmark_db
async def test_r10_recording_the_assessment_completes_its_task_at_once(
    case_api_client: Client, sessions: Sessions, clock: FixedClock
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, minors=True)
        await schedule(client, case_id, "2026-04-20")
        purpose = "child_rights_assessment:2026-04-20"
        assert (await tasks_of(sessions, case_id))[purpose].status is TaskStatus.open
        recorded = await client.post(
            f"/v1/cases/{case_id}/child-assessments",
            json={
                "children_situation": "made up",
                "children_heard": True,
                "how_heard": "made up",
                "sleeping_place_after_eviction": "made up",
                "completed": True,
            },
        )
        assert recorded.status_code == 201, recorded.text
    task = (await tasks_of(sessions, case_id))[purpose]  # no worker run in between
    assert task.status is TaskStatus.completed
    completed = await events_of(sessions, case_id, "task.completed")
    assert {
        "task_id": task.id,
        "task_kind": "child_rights_assessment",
        "completed_on": clock.now().date().isoformat(),
    } in completed
