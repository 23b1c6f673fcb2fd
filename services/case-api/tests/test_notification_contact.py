"""GET /v1/cases/{case_id}/notification-contact: what the notifier needs to inform a household, read at send
time with its service role (contract.md), each read in the processing log (R17); nobody else may read it; an
erased household is gone (R18). Households here are made up."""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import date

import httpx
import pytest
from case_api_fixtures import TEAM, bearer, made_up_household, made_up_signal
from conftest import T0, case_api_settings, serve
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.audit.models import Operation, ProcessingLogEntry
from case_api.cases.models import Case, OutcomeCode, Stage
from case_api.context import Context
from case_api.legal.models import EvictionChange, EvictionDateChange
from case_api.notification_contact.service import home_address_lines, mail_address_lines
from case_api.oco.models import OcoAnswer, OcoMoment, OcoOffer
from case_api.retention.service import RETENTION_PRINCIPAL, erase_cases
from devinfra.devkey import DevKey
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}


def unique_address() -> dict[str, str]:
    """A postcode and number no other test uses: R2 would attach the signal to that test's case."""
    return {"postcode": f"{1000 + uuid.uuid4().int % 9000} NC", "house_number": str(1 + uuid.uuid4().int % 10**8)}


@pytest.fixture
async def notifier(case_api_db: str, clock: FixedClock, dev_key: DevKey) -> AsyncIterator[httpx.AsyncClient]:
    """case-api as the notifier calls it: its service role, subject `notifier`, no team."""
    headers = bearer(dev_key, "notifier", team=None, subject="notifier")
    async with serve(case_api_settings(case_api_db, dev_key), clock, headers) as client:
        yield client


async def open_case(client: httpx.AsyncClient, **household: object) -> tuple[str, dict[str, object]]:
    body = made_up_household(**unique_address())
    body.update(household)
    response = await client.post("/v1/signals", json={"team": TEAM, "household": body, "signal": made_up_signal()})
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"]), body


async def log_of(sessions: Sessions, case_id: str) -> list[ProcessingLogEntry]:
    async with sessions() as session:
        query = select(ProcessingLogEntry).where(ProcessingLogEntry.case_id == case_id).order_by(ProcessingLogEntry.id)
        return list((await session.scalars(query)).all())


async def test_the_notifier_reads_how_to_reach_the_household_and_the_read_is_logged(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with case_api_client() as caseworker:
        case_id, household = await open_case(
            caseworker, house_number_suffix="a", mail_address="p/a Buurthuis De Brug\nPostbus 1234\n8900 CA Leeuwarden"
        )

    response = await notifier.get(f"/v1/cases/{case_id}/notification-contact", headers=TRACEPARENT)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "case_id": case_id,
        "first_name": "Jelle",
        "full_name": "Jelle Testhuis",
        "address_lines": [f"Proefstraat {household['house_number']}a", f"{household['postcode']} Leeuwarden"],
        "mail_address_lines": ["p/a Buurthuis De Brug", "Postbus 1234", "8900 CA Leeuwarden"],
        "email": "jelle.testhuis@example.invalid",
        "mobile": "0612345678",
        "preferred_channel": "sms",
        "language": "nl",
        "evicted": False,
        "team": TEAM,
        "eviction_date": None,
        "storage_place": None,
        "storage_reference": None,
        "retention_end": None,
        "housing_address": None,
        "objection_end": None,
        "offer_oco": True,
    }
    read = (await log_of(sessions, case_id))[-1]
    assert (read.actor, read.actor_roles, read.activity) == ("notifier", "notifier", "informing-the-household")
    assert (read.operation, read.at, read.trace_id) == (Operation.read, T0, TRACE_ID)


async def test_every_read_is_logged_and_an_admin_may_read_too(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with case_api_client() as caseworker:
        case_id, _ = await open_case(caseworker)
    for _ in range(2):
        assert (await notifier.get(f"/v1/cases/{case_id}/notification-contact")).status_code == 200
    async with case_api_client(roles=("admin",), team=None) as admin:
        assert (await admin.get(f"/v1/cases/{case_id}/notification-contact")).status_code == 200

    reads = [(e.actor, e.activity) for e in await log_of(sessions, case_id) if e.operation is Operation.read]
    assert reads == [("notifier", "informing-the-household")] * 2 + [("caseworker-1", "informing-the-household")]


@pytest.mark.parametrize(
    ("roles", "team"),
    [
        (("outreach_worker",), TEAM),
        (("team_lead",), TEAM),
        (("debt_counsellor",), TEAM),
        (("partner_gateway",), None),
        (("policy_analyst",), None),
    ],
    ids=lambda value: value[0] if isinstance(value, tuple) else str(value),
)
async def test_no_one_but_the_notifier_and_admins_reads_it(
    case_api_client: Client, sessions: Sessions, roles: tuple[str, ...], team: str | None
) -> None:
    async with case_api_client() as caseworker:
        case_id, _ = await open_case(caseworker)
    async with case_api_client(roles=roles, team=team) as other:
        response = await other.get(f"/v1/cases/{case_id}/notification-contact")

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["required_roles"] == ["notifier", "admin"]
    assert [e.activity for e in await log_of(sessions, case_id)] == ["case-file"]  # only the opening


async def test_the_notifier_role_reaches_no_other_case_endpoint(
    case_api_client: Client, notifier: httpx.AsyncClient
) -> None:
    async with case_api_client() as caseworker:
        case_id, _ = await open_case(caseworker)
    assert (await notifier.get(f"/v1/cases/{case_id}")).status_code == 403
    assert (await notifier.get(f"/v1/cases/{case_id}/timeline")).status_code == 403


async def test_an_unknown_case_is_404(notifier: httpx.AsyncClient) -> None:
    response = await notifier.get(f"/v1/cases/{uuid.uuid4()}/notification-contact")
    assert response.status_code == 404
    assert response.json()["field"] == "case_id"


async def test_after_the_eviction_there_is_no_home_address_but_the_stored_goods_are_named(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with case_api_client() as caseworker:
        case_id, _ = await open_case(caseworker, mail_address="Postbus 1234, 8900 CA Leeuwarden")
        async with sessions() as session, session.begin():  # the legal track is another test's: put it there
            case = await session.get(Case, case_id)
            assert case is not None
            case.stage, case.eviction_date = Stage.evicted, date(2026, 2, 26)
        stored = {
            "storage_place": "Gemeentelijk depot Leeuwarden",
            "storage_reference": "DEP-2026-0077",
            "inventory_reference": "PV-2026-0077",
            "stored_on": "2026-02-26",
            "costs": "900.00",
        }
        response = await caseworker.post(f"/v1/cases/{case_id}/belongings", json=stored)
        assert response.status_code == 201, response.text

    contact = (await notifier.get(f"/v1/cases/{case_id}/notification-contact")).json()

    assert contact["evicted"] is True
    assert contact["address_lines"] == []
    assert contact["mail_address_lines"] == ["Postbus 1234", "8900 CA Leeuwarden"]
    assert contact["eviction_date"] == "2026-02-26"
    assert (contact["storage_place"], contact["storage_reference"], contact["retention_end"]) == (
        "Gemeentelijk depot Leeuwarden",
        "DEP-2026-0077",
        "2026-05-28",
    )


async def test_a_closed_case_after_an_executed_eviction_is_still_evicted(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with case_api_client() as caseworker:
        case_id, _ = await open_case(caseworker)
    async with sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        case.stage, case.outcome_code = Stage.closed, OutcomeCode.evicted
        session.add(
            EvictionDateChange(
                id=str(uuid.uuid4()),
                case_id=case_id,
                position=1,
                change=EvictionChange.executed,
                eviction_date=date(2026, 2, 20),
                recorded_by="bailiff",
                recorded_at=T0,
            )
        )

    contact = (await notifier.get(f"/v1/cases/{case_id}/notification-contact")).json()

    assert (contact["evicted"], contact["address_lines"]) == (True, [])


async def test_oco_is_no_longer_offered_once_the_household_answered(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with case_api_client() as caseworker:
        case_id, _ = await open_case(caseworker)
    async with sessions() as session, session.begin():
        session.add(
            OcoOffer(
                id=str(uuid.uuid4()),
                case_id=case_id,
                moment=OcoMoment.threat_started,
                channels=["letter", "sms"],
                offered_at=T0,
                answer=OcoAnswer.declined,
                answered_at=T0,
                recorded_by="caseworker-1",
            )
        )
    contact = (await notifier.get(f"/v1/cases/{case_id}/notification-contact")).json()
    assert contact["offer_oco"] is False


async def test_an_erased_household_is_gone(
    case_api_client: Client, notifier: httpx.AsyncClient, sessions: Sessions, case_api_db: str, clock: FixedClock
) -> None:
    async with case_api_client() as caseworker:
        case_id, _ = await open_case(caseworker)
        closed = await caseworker.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert closed.status_code == 200, closed.text
    async with sessions() as session, session.begin():
        ctx = Context(
            session=session, settings=case_api_settings(case_api_db), clock=clock, principal=RETENTION_PRINCIPAL
        )
        await erase_cases(ctx, [case_id])

    response = await notifier.get(f"/v1/cases/{case_id}/notification-contact")

    assert response.status_code == 410
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["type"], response.json()["field"]) == ("http://case-api/problems/gone", "case_id")
    assert [e.operation for e in await log_of(sessions, case_id)][-1] is Operation.erase  # the refusal read nothing


def test_address_lines_as_a_letter_is_addressed() -> None:
    class Home:
        street, house_number, postcode, city = "Proefstraat", "12", "8911 AB", "Leeuwarden"
        house_number_suffix = ""

    home = Home()
    assert home_address_lines(home) == ["Proefstraat 12", "8911 AB Leeuwarden"]  # type: ignore[arg-type]
    home.house_number_suffix = "B"
    assert home_address_lines(home)[0] == "Proefstraat 12B"  # type: ignore[arg-type]
    home.house_number_suffix = "2 hoog"
    assert home_address_lines(home)[0] == "Proefstraat 12 2 hoog"  # type: ignore[arg-type]
    assert mail_address_lines(None) == []
    assert mail_address_lines("  ") == []
    assert mail_address_lines("Postbus 9; 8900 AA  Leeuwarden") == ["Postbus 9", "8900 AA  Leeuwarden"]
    assert mail_address_lines("Opvang Het Anker\r\nKade 3\r\n\r\n8911 BB Leeuwarden") == [
        "Opvang Het Anker",
        "Kade 3",
        "8911 BB Leeuwarden",
    ]
