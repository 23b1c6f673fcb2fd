"""Statistics for policy analysts (R12, R16): children in threatened, averted and executed evictions per period,
averted versus executed, days to first contact; aggregates only, small cells suppressed."""

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime

import httpx
from case_api_fixtures import made_up_household, made_up_signal
from conftest import T0
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.cases.models import Case
from case_api.legal.models import EvictionChange, EvictionDateChange, LegalStep, LegalStepKind

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
ANALYST = {"roles": ("policy_analyst",), "team": None}


async def open_families(client: httpx.AsyncClient, count: int, children_born: tuple[date, ...]) -> list[str]:
    case_ids = []
    for _ in range(count):
        postcode = f"{1000 + uuid.uuid4().int % 9000} YY"
        household = made_up_household(postcode=postcode, children_born=children_born)
        body = {"team": "team-noord", "household": household, "signal": made_up_signal()}
        opened = await client.post("/v1/signals", json=body)
        assert opened.status_code == 201, opened.text
        case_ids.append(opened.json()["case_id"])
    return case_ids


async def summons(sessions: Sessions, case_ids: list[str], on: date) -> None:
    async with sessions() as session, session.begin():
        for case_id in case_ids:
            session.add(
                LegalStep(
                    id=str(uuid.uuid4()),
                    case_id=case_id,
                    kind=LegalStepKind.summons_served,
                    occurred_on=on,
                    court_reference="opaque-ref",
                    recorded_by="test",
                    recorded_at=T0,
                )
            )


async def eviction_change(sessions: Sessions, case_id: str, change: EvictionChange, on: date) -> None:
    async with sessions() as session, session.begin():
        session.add(
            EvictionDateChange(
                id=str(uuid.uuid4()),
                case_id=case_id,
                position=1,
                change=change,
                eviction_date=on if change is EvictionChange.executed else None,
                recorded_by="test",
                recorded_at=datetime(on.year, on.month, on.day, 10, tzinfo=UTC),
            )
        )


def month(rows: list[dict[str, object]], start: str) -> dict[str, object]:
    return next(row for row in rows if row["period_start"] == start)


async def test_r12_children_in_threatened_averted_and_executed_evictions_are_counted_per_month(
    case_api_client: Client, sessions: Sessions
) -> None:
    # Two minors each; the eldest turned 18 on 1 June 2030, before the summons, and does not count.
    async with case_api_client() as client:
        cases = await open_families(client, 5, (date(2020, 1, 1), date(2021, 5, 5), date(2012, 6, 1)))
    await summons(sessions, cases, date(2031, 3, 10))
    await eviction_change(sessions, cases[0], EvictionChange.averted, date(2031, 4, 5))
    params = {"period": "month", "from": "2031-01-01", "to": "2031-12-31"}
    async with case_api_client(**ANALYST) as analyst:
        response = await analyst.get("/v1/statistics/children", params=params)
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert len(rows) == 12
    assert month(rows, "2031-03-01")["threatened"] == {"value": 10, "suppressed": False}
    assert month(rows, "2031-03-01")["executed"] == {"value": 0, "suppressed": False}
    async with case_api_client(**ANALYST, statistics_min_cell=1) as analyst:
        unsuppressed = (await analyst.get("/v1/statistics/children", params=params)).json()["rows"]
    assert month(unsuppressed, "2031-04-01")["averted"] == {"value": 2, "suppressed": False}


async def test_r16_a_cell_of_fewer_households_than_the_minimum_is_suppressed(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        cases = await open_families(client, 2, (date(2025, 1, 1), date(2026, 1, 1), date(2027, 1, 1)))
    await summons(sessions, cases, date(2033, 2, 1))
    await eviction_change(sessions, cases[0], EvictionChange.executed, date(2033, 5, 20))
    params = {"period": "quarter", "from": "2033-01-01", "to": "2033-12-31"}
    async with case_api_client(**ANALYST) as analyst:
        children = (await analyst.get("/v1/statistics/children", params=params)).json()
        outcomes = (await analyst.get("/v1/statistics/outcomes", params=params)).json()
    # Six children, but two households stand behind them: a figure that could point at a family (R16).
    assert children["rows"][0]["threatened"] == {"value": None, "suppressed": True}
    assert children["rows"][1]["executed"] == {"value": None, "suppressed": True}
    assert outcomes["rows"][0]["threatened"] == {"value": None, "suppressed": True}
    assert outcomes["rows"][1]["averted"] == {"value": 0, "suppressed": False}
    assert children["min_cell"] == 5


async def test_r12_averted_versus_executed_evictions_per_period(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        cases = await open_families(client, 11, ())
    await summons(sessions, cases, date(2034, 1, 15))
    for case_id in cases[:5]:
        await eviction_change(sessions, case_id, EvictionChange.cancelled, date(2034, 2, 1))
    for case_id in cases[5:10]:
        await eviction_change(sessions, case_id, EvictionChange.executed, date(2034, 2, 20))
    params = {"period": "year", "from": "2034-01-01", "to": "2034-12-31"}
    async with case_api_client(roles=("team_lead",)) as team_lead:
        outcomes = await team_lead.get("/v1/statistics/outcomes", params=params)
    assert outcomes.status_code == 200, outcomes.text
    [row] = outcomes.json()["rows"]
    assert row["threatened"]["value"] == 11
    assert row["averted"]["value"] == 5
    assert row["executed"]["value"] == 5


async def test_days_from_signal_to_first_contact_count_median_and_p90(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        cases = await open_families(client, 6, ())
    days = [1, 2, 3, 4, 10]
    async with sessions() as session, session.begin():
        for case_id, gap in zip(cases, days, strict=False):
            contact = datetime(2032, 2, 1 + gap, 10, tzinfo=UTC)
            await session.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(first_signal_on=date(2032, 2, 1), first_contact_at=contact)
            )
        await session.execute(
            update(Case)
            .where(Case.id == cases[5])
            .values(first_signal_on=date(2032, 3, 1), first_contact_at=datetime(2032, 3, 2, 10, tzinfo=UTC))
        )
    params = {"period": "month", "from": "2032-02-01", "to": "2032-03-31"}
    async with case_api_client(**ANALYST) as analyst:
        response = await analyst.get("/v1/statistics/first-contact", params=params)
    february, march = response.json()["rows"]
    assert february["count"] == {"value": 5, "suppressed": False}
    assert february["median_days"]["value"] == 3
    assert february["p90_days"]["value"] == 10
    assert march["count"] == {"value": None, "suppressed": True}
    assert march["median_days"] == {"value": None, "suppressed": True}


async def test_r16_statistics_answer_aggregates_only(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        cases = await open_families(client, 5, (date(2030, 1, 1),))
    await summons(sessions, cases, date(2035, 6, 1))
    async with case_api_client(**ANALYST) as analyst:
        text = json.dumps(
            [
                (await analyst.get(f"/v1/statistics/{name}", params={"from": "2035-01-01", "to": "2035-12-31"})).json()
                for name in ("children", "outcomes", "first-contact")
            ]
        )
    for personal in [*cases, "Testhuis", "Proefstraat", "team-noord"]:
        assert personal not in text


async def test_statistics_are_refused_to_caseworkers_without_a_lead_role_and_to_partners(
    case_api_client: Client,
) -> None:
    for roles, team in ((("outreach_worker",), "team-noord"), (("partner_gateway",), None)):
        async with case_api_client(roles=roles, team=team) as client:
            assert (await client.get("/v1/statistics/children")).status_code == 403
    async with case_api_client(roles=("admin",), team=None) as admin:
        assert (await admin.get("/v1/statistics/children")).status_code == 200
