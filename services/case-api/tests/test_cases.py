"""Opening and reading a case over HTTP on PostgreSQL: the case and its events are one transaction, the events
meet their contract, and every refusal is problem+json naming the field."""

import itertools
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any

import httpx
import pytest
from case_api_fixtures import TEAM, made_up_household, made_up_signal
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.cases import service
from case_api.cases.models import Case, OpenedBy
from case_api.config import Settings
from case_api.context import Context
from case_api.db import OutboxRecord
from case_api.events import emit
from case_api.households.schemas import HouseholdIn
from eviction_schemas.envelope import CASE_EVENTS_TOPIC, dataschema_uri, event_type
from eviction_schemas.registry import load_sample, validate_event
from service_kit.auth import Principal, Role
from service_kit.clock import FixedClock
from service_kit.db import session_scope
from service_kit.errors import PROBLEM_JSON
from service_kit.outbox import STRUCTURED_CONTENT_TYPE

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CASE_OPENED_DATA = {"case_id", "household_id", "opened_by", "priority", "has_minors", "team"}
FICTITIOUS_BSN = "111222333"  # made up; passes the eleven-test
NO_CHILDREN: tuple[date, ...] = ()

# One case per household: every test opens its cases for households at addresses of their own.
_house_numbers = itertools.count(100)


def household(**overrides: Any) -> dict[str, object]:
    """A made-up household at a fresh address of postcode 8931 TC (children unless `children_born=()`)."""
    return made_up_household(postcode="8931 TC", house_number=str(next(_house_numbers)), **overrides)


def new_case(team: str = TEAM, **fields: object) -> dict[str, object]:
    """The body of POST /v1/cases for a fresh household."""
    return {"team": team, "household": household(), **fields}


def caseworker_context(session: AsyncSession, clock: FixedClock, team: str) -> Context:
    principal = Principal(subject="caseworker-1", roles=frozenset({Role.team_lead}), team=team)
    return Context(session=session, settings=Settings(_env_file=None), clock=clock, principal=principal)


async def outbox_rows(sessions: Sessions, case_id: str) -> list[OutboxRecord]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxRecord).where(OutboxRecord.key == case_id).order_by(OutboxRecord.id))
        return list(rows)


async def counts(sessions: Sessions) -> tuple[int, int]:
    async with sessions() as session:
        cases = await session.scalar(select(func.count()).select_from(Case))
        events = await session.scalar(select(func.count()).select_from(OutboxRecord))
    return int(cases or 0), int(events or 0)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    return body


async def test_opening_a_case_stores_it_with_exactly_one_outbox_row_holding_a_valid_case_opened_event(
    case_api_client: Client, sessions: Sessions, clock: FixedClock
) -> None:
    async with case_api_client() as client:
        response = await client.post(
            "/v1/cases",
            json={"team": "team-noord", "opened_by": "staff", "household": household(children_born=NO_CHILDREN)},
            headers={"traceparent": TRACEPARENT},
        )
    assert response.status_code == 201, response.text
    case = response.json()
    async with sessions() as session:
        stored = await session.get(Case, case["id"])
    assert stored is not None
    assert (stored.team, stored.stage, stored.household_id) == ("team-noord", "signalled", case["household_id"])

    [row] = await outbox_rows(sessions, case["id"])
    assert row.topic == CASE_EVENTS_TOPIC
    assert row.event_type == event_type("case.opened")
    assert row.headers == {"content-type": STRUCTURED_CONTENT_TYPE, "traceparent": TRACEPARENT}
    assert row.published_at is None
    envelope = json.loads(row.payload)
    validate_event(envelope)
    assert envelope["id"] == row.event_id
    assert envelope["subject"] == case["id"] == envelope["data"]["case_id"]
    assert envelope["source"] == "urn:nld:oin:00000001234567890000:systeem:case-api"
    assert envelope["dataschema"] == dataschema_uri("case.opened")
    assert envelope["sequence"] == "00000000000000000001"
    assert envelope["time"] == clock.now().isoformat().replace("+00:00", "Z")
    assert envelope["traceparent"] == TRACEPARENT
    assert envelope["data"] == {
        "case_id": case["id"],
        "household_id": case["household_id"],
        "opened_by": "staff",
        "priority": "normal",
        "has_minors": False,
        "team": "team-noord",
    }


async def test_a_signal_that_opens_a_case_writes_case_opened_then_signal_received_in_its_transaction(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        response = await client.post(
            "/v1/signals", json={"team": TEAM, "household": household(), "signal": made_up_signal()}
        )
    assert response.status_code == 201, response.text
    assert response.json()["case_opened"] is True

    rows = await outbox_rows(sessions, response.json()["case_id"])
    assert [row.event_type for row in rows] == [event_type("case.opened"), event_type("signal.received")]
    envelopes = [json.loads(row.payload) for row in rows]
    for envelope in envelopes:
        validate_event(envelope)
    assert [envelope["sequence"] for envelope in envelopes] == ["00000000000000000001", "00000000000000000002"]
    assert envelopes[0]["data"]["opened_by"] == "signal"
    assert envelopes[1]["data"]["signal_id"] == response.json()["signal_id"]


async def test_the_case_opened_event_carries_no_personal_data(case_api_client: Client, sessions: Sessions) -> None:
    made_up = household(bsn=FICTITIOUS_BSN)
    async with case_api_client(team="team-zuid") as client:
        response = await client.post("/v1/cases", json={"team": "team-zuid", "household": made_up})
    assert response.status_code == 201, response.text
    case = response.json()

    [row] = await outbox_rows(sessions, case["id"])
    envelope = json.loads(row.payload)
    # Only the catalogue's minimum data, and only pseudonymous ids: nothing that names or locates a person.
    assert set(envelope["data"]) == CASE_OPENED_DATA
    assert set(envelope) <= {
        "specversion", "id", "source", "type", "subject", "time",
        "datacontenttype", "dataschema", "sequence", "traceparent", "data",
    }  # fmt: skip
    for pseudonym in (envelope["subject"], envelope["data"]["household_id"]):
        assert uuid.UUID(pseudonym).version == 4
    members: list[dict[str, str]] = made_up["members"]  # type: ignore[assignment]
    personal = [FICTITIOUS_BSN, "Proefstraat", "8931 TC", "8931TC", "Leeuwarden", "jelle.testhuis", "0612345678"]
    personal += [value for member in members for value in (member["given_name"], member["surname"])]
    personal += [member["birth_date"] for member in members]
    payload = row.payload.decode()
    for value in personal:
        assert value not in payload


async def test_a_commit_that_fails_after_the_event_was_written_leaves_neither_and_answers_500_not_201(
    case_api_client: Client, sessions: Sessions
) -> None:
    # A deferred constraint trigger fails the transaction at COMMIT, after the endpoint and emit() ran.
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'outbox refused at commit'; END $$"
            )
        )
        await session.execute(
            text(
                "CREATE CONSTRAINT TRIGGER refuse_outbox AFTER INSERT ON outbox "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_outbox()"
            )
        )
    before = await counts(sessions)
    try:
        async with case_api_client(team="team-west") as client:
            response = await client.post("/v1/cases", json=new_case("team-west"))
    finally:
        async with sessions() as session, session.begin():
            await session.execute(text("DROP TRIGGER refuse_outbox ON outbox"))
            await session.execute(text("DROP FUNCTION refuse_outbox()"))

    body = assert_problem(response, 500)
    assert body["type"] == "http://case-api/problems/internal-error"
    assert "outbox refused" not in response.text
    assert await counts(sessions) == before


async def test_an_error_after_emit_rolls_back_both_the_case_and_its_event(
    sessions: Sessions, clock: FixedClock
) -> None:
    before = await counts(sessions)

    async def open_then_fail() -> None:
        async for session in session_scope(sessions):
            ctx = caseworker_context(session, clock, "team-oost")
            await service.open_case_without_signal(
                ctx, team="team-oost", household=HouseholdIn.model_validate(household()), opened_by=OpenedBy.staff
            )
            await session.flush()  # the rows are in the transaction now
            raise RuntimeError("a failure after emit")

    with pytest.raises(RuntimeError, match="after emit"):
        await open_then_fail()

    assert await counts(sessions) == before


async def test_each_event_of_a_case_takes_the_next_sequence_of_that_case(sessions: Sessions, clock: FixedClock) -> None:
    async for session in session_scope(sessions):
        ctx = caseworker_context(session, clock, TEAM)
        first, second = [
            await service.open_case_without_signal(
                ctx, team=TEAM, household=HouseholdIn.model_validate(household()), opened_by=OpenedBy.staff
            )
            for _ in range(2)
        ]
    async for session in session_scope(sessions):
        ctx = caseworker_context(session, clock, TEAM)
        case = await service.load_case(ctx, first.id, for_update=True)
        emit(ctx, case=case, event="case.closed", data=load_sample("case.closed")["data"])

    rows = await outbox_rows(sessions, first.id)
    assert [json.loads(row.payload)["sequence"] for row in rows] == ["00000000000000000001", "00000000000000000002"]
    assert [row.event_type for row in rows] == [event_type("case.opened"), event_type("case.closed")]
    for row in rows:
        validate_event(json.loads(row.payload))
    [other] = await outbox_rows(sessions, second.id)
    assert json.loads(other.payload)["sequence"] == "00000000000000000001"
    async with sessions() as session:
        stored = await session.get(Case, first.id)
        assert stored is not None
        assert stored.last_event_sequence == 2


# The clock stands at 2 March 2026 (Europe/Amsterdam): a member born on 2 March 2008 turned 18 that day.
@pytest.mark.parametrize(
    ("children_born", "has_minors", "priority"),
    [
        ((date(2015, 6, 1), date(2019, 9, 12)), True, "highest"),
        ((date(2008, 3, 3),), True, "highest"),  # 18 tomorrow: still a minor today
        ((date(2008, 3, 2),), False, "normal"),  # 18 today
        (NO_CHILDREN, False, "normal"),
    ],
)
async def test_a_household_with_minors_by_birth_date_gets_the_highest_priority(
    children_born: tuple[date, ...], has_minors: bool, priority: str, case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        response = await client.post(
            "/v1/cases", json={"team": TEAM, "household": household(children_born=children_born)}
        )

    assert response.status_code == 201, response.text
    assert (response.json()["priority"], response.json()["has_minors"]) == (priority, has_minors)
    [row] = await outbox_rows(sessions, response.json()["id"])
    assert json.loads(row.payload)["data"]["priority"] == priority
    assert json.loads(row.payload)["data"]["has_minors"] is has_minors


async def test_a_created_case_reads_back(case_api_client: Client) -> None:
    async with case_api_client() as client:
        created = await client.post("/v1/cases", json=new_case(opened_by="partner_message"))
        read = await client.get(f"/v1/cases/{created.json()['id']}")

    assert created.status_code == 201, created.text
    assert read.status_code == 200
    assert read.json() == created.json()
    assert read.json()["opened_by"] == "partner_message"


async def test_opening_a_case_needs_a_token_of_the_case_s_team_and_stores_nothing_otherwise(
    case_api_client: Client, sessions: Sessions
) -> None:
    before = await counts(sessions)
    async with case_api_client(roles=()) as client:
        anonymous = await client.post("/v1/cases", json=new_case())
    async with case_api_client(team="team-zuid") as client:
        other_team = await client.post("/v1/cases", json=new_case(TEAM))

    assert_problem(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert assert_problem(other_team, 403)["field"] == "team"
    assert await counts(sessions) == before


@pytest.mark.parametrize("team", ["Team Noord", "", "team_noord", "x" * 41])
async def test_a_bad_team_answers_400_naming_team_and_stores_nothing(
    team: str, case_api_client: Client, sessions: Sessions
) -> None:
    before = await counts(sessions)
    async with case_api_client() as client:
        response = await client.post("/v1/cases", json=new_case(team))

    body = assert_problem(response, 400)
    assert [error["field"] for error in body["errors"]] == ["team"]
    assert str(body["detail"]).startswith("team: ")
    assert await counts(sessions) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.pop("household"), "household"),
        (lambda body: body["household"].update(members=[]), "household.members"),
        (
            lambda body: body["household"]["members"][1].update(birth_date="2015-02-30"),
            "household.members[1].birth_date",
        ),
        (lambda body: body["household"].update(postcode="8931tc"), "household.postcode"),
        (lambda body: body.update(signal=made_up_signal(arrears_amount="-1")), "signal.arrears_amount"),
    ],
)
async def test_a_bad_household_or_signal_answers_400_naming_the_field_and_stores_nothing(
    change: Callable[[dict[str, Any]], object], field: str, case_api_client: Client, sessions: Sessions
) -> None:
    body: dict[str, Any] = new_case()
    change(body)
    before = await counts(sessions)
    async with case_api_client() as client:
        response = await client.post("/v1/cases", json=body)

    problem = assert_problem(response, 400)
    assert [error["field"] for error in problem["errors"]] == [field]
    assert await counts(sessions) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.update(bsn=FICTITIOUS_BSN), "bsn"),
        (lambda body: body["household"].update(bsn_of_landlord=FICTITIOUS_BSN), "household.bsn_of_landlord"),
        (lambda body: body["household"]["members"][0].update(bsn=FICTITIOUS_BSN), "household.members[0].bsn"),
        (lambda body: body["household"].update(bsn="111222334"), "household.bsn"),  # fails the eleven-test
    ],
)
async def test_an_unknown_or_invalid_field_answers_400_naming_it_without_echoing_its_value(
    change: Callable[[dict[str, Any]], object], field: str, case_api_client: Client
) -> None:
    body: dict[str, Any] = new_case()
    change(body)
    async with case_api_client() as client:
        response = await client.post("/v1/cases", json=body)

    problem = assert_problem(response, 400)
    assert [error["field"] for error in problem["errors"]] == [field]
    assert FICTITIOUS_BSN not in response.text
    assert "111222334" not in response.text


async def test_a_malformed_traceparent_answers_400_naming_the_header(case_api_client: Client) -> None:
    async with case_api_client() as client:
        response = await client.post("/v1/cases", json=new_case(), headers={"traceparent": "not-a-trace"})

    body = assert_problem(response, 400)
    assert [error["field"] for error in body["errors"]] == ["traceparent"]


async def test_reading_an_unknown_case_answers_404_problem_json(case_api_client: Client) -> None:
    unknown = str(uuid.uuid4())
    async with case_api_client() as client:
        response = await client.get(f"/v1/cases/{unknown}")

    body = assert_problem(response, 404)
    assert body["type"] == "http://case-api/problems/not-found"
    assert body["field"] == "case_id"
    assert unknown in str(body["detail"])
