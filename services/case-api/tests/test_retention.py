"""R18: personal data of a closed case is erased after the retention period (2 years; a signal that never
became a case: 6 months); the case keeps what statistics need, and each erasure is logged without the data."""

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date, timedelta

import httpx
from case_api_fixtures import made_up_household, made_up_signal
from conftest import T0
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from case_api.audit.models import Operation, ProcessingLogEntry
from case_api.cases.models import Case, OutcomeCode, Stage
from case_api.config import Settings
from case_api.contacts.models import ContactAttempt
from case_api.context import Context
from case_api.households.models import Household
from case_api.legal.models import LegalStep, LegalStepKind
from case_api.retention.service import RETENTION_PRINCIPAL, erase_due
from case_api.signals.models import Signal
from case_api.workers.retention import run_once
from service_kit.clock import FixedClock

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
VALID_BSN = "111222333"  # made up; passes the eleven-test
TWO_YEARS_AND_A_DAY = timedelta(days=731)


async def closed_case(client: httpx.AsyncClient, postcode: str, outcome: str, *, bsn: str | None = None) -> str:
    body = {
        "team": "team-noord",
        "household": made_up_household(postcode=postcode, bsn=bsn),
        "signal": made_up_signal(),
    }
    receipt = (await client.post("/v1/signals", json=body)).json()
    case_id: str = receipt["case_id"]
    if not outcome.startswith("not_picked_up"):
        attempt = {"channel": "home_visit", "reached": True, "note": "Jelle vertelde over zijn schulden"}
        assert (await client.post(f"/v1/cases/{case_id}/contact-attempts", json=attempt)).status_code == 201
    else:
        pickup = {"picked_up": False, "reason": "al bekend bij de GGZ"}
        response = await client.put(f"/v1/cases/{case_id}/signals/{receipt['signal_id']}/pickup", json=pickup)
        assert response.status_code == 200, response.text
    closed = await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": outcome})
    assert closed.status_code == 200, closed.text
    return case_id


async def erase(sessions: Sessions, case_api_db: str, clock: FixedClock) -> int:
    settings = Settings(_env_file=None, database_url=case_api_db)  # type: ignore[call-arg]
    async with sessions() as session, session.begin():
        return await erase_due(Context(session=session, settings=settings, clock=clock, principal=RETENTION_PRINCIPAL))


async def load(sessions: Sessions, case_id: str) -> tuple[Case, Household, list[Signal], list[ContactAttempt]]:
    async with sessions() as session:
        case = (await session.scalars(select(Case).where(Case.id == case_id))).one()
        household = (
            await session.scalars(
                select(Household).where(Household.id == case.household_id).options(selectinload(Household.members))
            )
        ).one()
        signals = list((await session.scalars(select(Signal).where(Signal.case_id == case_id))).all())
        attempts = list((await session.scalars(select(ContactAttempt).where(ContactAttempt.case_id == case_id))).all())
        return case, household, signals, attempts


async def test_r18_personal_data_of_a_case_closed_two_years_ago_is_erased(
    case_api_client: Client, sessions: Sessions, case_api_db: str, clock: FixedClock
) -> None:
    async with case_api_client() as client:
        case_id = await closed_case(client, "8981 AA", "no_help_wanted", bsn=VALID_BSN)
    clock.advance(TWO_YEARS_AND_A_DAY)
    assert await erase(sessions, case_api_db, clock) >= 1
    case, household, signals, attempts = await load(sessions, case_id)
    assert case.erased_at == T0 + TWO_YEARS_AND_A_DAY
    assert (case.stage, case.outcome_code, case.has_minors) == (Stage.closed, OutcomeCode.no_help_wanted, True)
    assert case.first_signal_on is not None
    assert case.closed_at is not None
    assert household.erased_at is not None
    assert (household.street, household.postcode, household.city, household.address_key) == ("", "", "", "")
    assert (household.email, household.mobile, household.mail_address) == (None, None, None)
    assert (household.bsn_token, household.bsn_index) == (None, None)
    assert all((m.given_name, m.surname, m.initials, m.birth_date) == ("", "", "", None) for m in household.members)
    assert [(s.arrears_amount, s.partner_reference, s.not_picked_up_reason) for s in signals] == [(None, None, None)]
    assert [attempt.note for attempt in attempts] == [None]


async def test_r18_each_erasure_is_logged_without_the_erased_data(
    case_api_client: Client, sessions: Sessions, case_api_db: str, clock: FixedClock
) -> None:
    async with case_api_client() as client:
        case_id = await closed_case(client, "8982 AA", "advice_quick_fix")
    clock.advance(TWO_YEARS_AND_A_DAY)
    await erase(sessions, case_api_db, clock)
    async with sessions() as session:
        [entry] = (
            await session.scalars(
                select(ProcessingLogEntry).where(
                    ProcessingLogEntry.case_id == case_id, ProcessingLogEntry.operation == Operation.erase
                )
            )
        ).all()
    assert (entry.activity, entry.actor, entry.at) == ("retention", "system:retention", T0 + TWO_YEARS_AND_A_DAY)
    logged = " ".join(str(value) for value in vars(entry).values())
    assert "Testhuis" not in logged
    assert "8982 AA" not in logged


async def test_r18_a_case_closed_less_than_two_years_ago_is_kept(
    case_api_client: Client, sessions: Sessions, case_api_db: str, clock: FixedClock
) -> None:
    async with case_api_client() as client:
        case_id = await closed_case(client, "8983 AA", "no_help_wanted")
    clock.advance(timedelta(days=729))
    await erase(sessions, case_api_db, clock)
    case, household, _, _ = await load(sessions, case_id)
    assert case.erased_at is None
    assert household.postcode == "8983 AA"


async def test_r18_a_signal_that_never_became_a_case_is_erased_after_six_months(
    case_api_client: Client, sessions: Sessions, case_api_db: str, clock: FixedClock
) -> None:
    async with case_api_client() as client:
        signal_only = await closed_case(client, "8984 AA", "not_picked_up_other_reason")
        worked = await closed_case(client, "8984 AB", "no_help_wanted")
    clock.advance(timedelta(days=184))
    await erase(sessions, case_api_db, clock)
    erased, household, signals, _ = await load(sessions, signal_only)
    kept, _, _, _ = await load(sessions, worked)
    assert erased.erased_at is not None
    assert household.postcode == ""
    assert signals[0].not_picked_up_reason is None
    assert signals[0].picked_up is False  # R3 still answerable: whether, never why
    assert kept.erased_at is None


async def test_r18_the_retention_worker_erases_every_due_case_and_statistics_keep_their_children(
    case_api_client: Client, sessions: Sessions, case_api_db: str, clock: FixedClock
) -> None:
    families = []
    async with case_api_client() as client:
        for index in range(5):
            families.append(await closed_case(client, f"898{index} BB", "no_help_wanted"))
    async with sessions() as session, session.begin():
        for case_id in families:
            session.add(
                LegalStep(
                    id=str(uuid.uuid4()),
                    case_id=case_id,
                    kind=LegalStepKind.summons_served,
                    occurred_on=date(2026, 1, 20),
                    court_reference="opaque",
                    recorded_by="test",
                    recorded_at=T0,
                )
            )
    params = {"period": "month", "from": "2026-01-01", "to": "2026-01-31"}
    async with case_api_client(roles=("policy_analyst",), team=None) as analyst:
        before = (await analyst.get("/v1/statistics/children", params=params)).json()["rows"]
    clock.advance(TWO_YEARS_AND_A_DAY)
    settings = Settings(_env_file=None, database_url=case_api_db)  # type: ignore[call-arg]
    assert await run_once(sessions, settings, clock) >= 5
    async with case_api_client(roles=("policy_analyst",), team=None) as analyst:
        after = (await analyst.get("/v1/statistics/children", params=params)).json()["rows"]
    assert before[0]["threatened"] == {"value": 10, "suppressed": False}
    assert after == before
    for case_id in families:
        case, household, _, _ = await load(sessions, case_id)
        assert case.erased_at is not None
        assert all(member.birth_date is None for member in household.members)
