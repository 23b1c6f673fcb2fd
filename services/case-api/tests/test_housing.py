"""Temporary housing after an eviction (R13): eligible with a debt arrangement in place and financial guidance
active, explained condition by condition; a team lead may grant it anyway with a recorded reason. Each decision
records the rehousing outcome R11 needs.

The legal track belongs to another package: tests put a case in its legal stage directly in the database."""

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from case_api_fixtures import TEAM, made_up_household, made_up_signal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.cases.models import Case, Stage
from case_api.db import OutboxRecord
from case_api.housing.service import eligibility_of
from case_api.support.models import SupportKind
from eviction_schemas.envelope import event_type
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
DECISIONS = "/v1/cases/{}/temporary-housing-decisions"
ELIGIBILITY = "/v1/cases/{}/temporary-housing/eligibility"
REPORT = "/v1/reports/evicted-families-without-rehousing"


def unique_postcode() -> str:
    return f"{1000 + uuid.uuid4().int % 9000} TH"


def unique_house_number() -> str:
    """With the postcode an address no other test uses: R2 would attach the signal to that case."""
    return str(1 + uuid.uuid4().int % 10**9)


async def evicted_case(client: httpx.AsyncClient, sessions: Sessions, stage: Stage = Stage.evicted) -> str:
    body = {
        "team": TEAM,
        "household": made_up_household(postcode=unique_postcode(), house_number=unique_house_number()),
        "signal": made_up_signal(),
    }
    response = await client.post("/v1/signals", json=body)
    assert response.status_code == 201, response.text
    case_id = str(response.json()["case_id"])
    async with sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        case.stage = stage
        case.eviction_date = date(2026, 3, 2)
    return case_id


async def start_support(client: httpx.AsyncClient, case_id: str, kind: str) -> str:
    response = await client.post(f"/v1/cases/{case_id}/support", json={"kind": kind})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def events(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord)
            .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
            .order_by(OutboxRecord.id)
        )
        return [json.loads(row.payload)["data"] for row in rows]


def test_r13_eligible_only_with_a_debt_arrangement_and_active_financial_guidance() -> None:
    assert eligibility_of("c", {SupportKind.debt_arrangement, SupportKind.budget_management}).eligible
    assert eligibility_of("c", {SupportKind.debt_arrangement, SupportKind.protective_administration}).eligible
    only_debt = eligibility_of("c", {SupportKind.debt_arrangement, SupportKind.debt_counselling})
    assert [item.condition for item in only_debt.missing] == ["financial_guidance"]
    only_guidance = eligibility_of("c", {SupportKind.budget_management})
    assert [item.condition for item in only_guidance.missing] == ["debt_arrangement"]
    assert not eligibility_of("c", {SupportKind.payment_arrangement}).eligible


async def test_r13_refused_when_conditions_missing_explains_which(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        case_id = await evicted_case(client, sessions)
        await start_support(client, case_id, "debt_arrangement")
        eligibility = (await client.get(ELIGIBILITY.format(case_id))).json()
        assert eligibility["eligible"] is False
        assert (eligibility["debt_arrangement_in_place"], eligibility["financial_guidance_active"]) == (True, False)
        [missing] = eligibility["missing"]
        assert missing["condition"] == "financial_guidance"
        assert "budget_management" in missing["explanation"]
    async with case_api_client(roles=("debt_counsellor",)) as counsellor:
        grant = await counsellor.post(DECISIONS.format(case_id), json={"granted": True, "override_reason": "x"})
        assert grant.status_code == 403, grant.text
        assert grant.json()["missing"] == ["financial_guidance"]
        assert "financial guidance" in grant.json()["detail"]
        no_reason = await counsellor.post(DECISIONS.format(case_id), json={"granted": False})
        assert no_reason.status_code == 422
        assert no_reason.json()["field"] == "refusal_reason"
        refused = await counsellor.post(
            DECISIONS.format(case_id), json={"granted": False, "refusal_reason": "no financial guidance accepted"}
        )
        assert refused.status_code == 201, refused.text
        assert refused.json()["rehousing_outcome"] == "refused_with_reason"
        case = (await counsellor.get(f"/v1/cases/{case_id}")).json()
        assert (case["stage"], case["rehousing_outcome"]) == ("aftercare", "refused_with_reason")

    assert await events(sessions, case_id, "temporary-housing.decided") == [
        {
            "granted": False,
            "debt_arrangement_in_place": True,
            "financial_guidance_active": False,
            "override_reason_present": False,
        }
    ]


async def test_r13_team_lead_override_needs_reason(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as team_lead:
        case_id = await evicted_case(team_lead, sessions)
        without_reason = await team_lead.post(DECISIONS.format(case_id), json={"granted": True})
        assert without_reason.status_code == 422, without_reason.text
        body = without_reason.json()
        assert (body["field"], body["rule"]) == ("override_reason", "R13")
        assert body["missing"] == ["debt_arrangement", "financial_guidance"]
        granted = await team_lead.post(
            DECISIONS.format(case_id),
            json={"granted": True, "override_reason": "two young children, the debt arrangement starts next week"},
        )
        assert granted.status_code == 201, granted.text
        assert granted.json()["rehousing_outcome"] == "temporary_housing_granted"
        assert granted.json()["override_reason"].startswith("two young children")

    assert await events(sessions, case_id, "temporary-housing.decided") == [
        {
            "granted": True,
            "debt_arrangement_in_place": False,
            "financial_guidance_active": False,
            "override_reason_present": True,
        }
    ]


async def test_r13_granted_when_conditions_met(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client(roles=("debt_counsellor",)) as counsellor:
        case_id = await evicted_case(counsellor, sessions)
        await start_support(counsellor, case_id, "debt_arrangement")
        await start_support(counsellor, case_id, "protective_administration")
        eligibility = (await counsellor.get(ELIGIBILITY.format(case_id))).json()
        assert (eligibility["eligible"], eligibility["missing"]) == (True, [])
        needless = await counsellor.post(DECISIONS.format(case_id), json={"granted": True, "override_reason": "x"})
        assert needless.status_code == 422
        assert needless.json()["field"] == "override_reason"
        granted = await counsellor.post(DECISIONS.format(case_id), json={"granted": True})
        assert granted.status_code == 201, granted.text

    assert await events(sessions, case_id, "temporary-housing.decided") == [
        {
            "granted": True,
            "debt_arrangement_in_place": True,
            "financial_guidance_active": True,
            "override_reason_present": False,
        }
    ]


async def test_r13_refused_then_granted_once_the_conditions_are_met(
    case_api_client: Client, sessions: Sessions, clock: FixedClock
) -> None:
    """The scenario of issue 3: refused (conditions missing), then granted (conditions met)."""
    async with case_api_client(roles=("debt_counsellor",)) as counsellor:
        case_id = await evicted_case(counsellor, sessions)
        guidance = await start_support(counsellor, case_id, "budget_management")
        refused = await counsellor.post(
            DECISIONS.format(case_id), json={"granted": False, "refusal_reason": "no debt arrangement yet"}
        )
        assert refused.status_code == 201, refused.text
        clock.advance(timedelta(days=9))  # the municipality arranged the debt arrangement
        await start_support(counsellor, case_id, "debt_arrangement")
        granted = await counsellor.post(DECISIONS.format(case_id), json={"granted": True})
        assert granted.status_code == 201, granted.text
        decisions = (await counsellor.get(DECISIONS.format(case_id))).json()["items"]
        assert [decision["granted"] for decision in decisions] == [False, True]
        case = (await counsellor.get(f"/v1/cases/{case_id}")).json()
        assert (case["stage"], case["rehousing_outcome"]) == ("aftercare", "temporary_housing_granted")
        # An ended trajectory no longer counts.
        ended = await counsellor.post(
            f"/v1/cases/{case_id}/support/{guidance}/end", json={"end_reason": "budget management stopped"}
        )
        assert ended.status_code == 200
        eligibility = (await counsellor.get(ELIGIBILITY.format(case_id))).json()
        assert [item["condition"] for item in eligibility["missing"]] == ["financial_guidance"]

    assert [data["granted"] for data in await events(sessions, case_id, "temporary-housing.decided")] == [False, True]


async def test_r11_a_decision_before_the_date_records_the_rehousing_outcome_and_leaves_the_report(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as team_lead:
        case_id = await evicted_case(team_lead, sessions, Stage.eviction_scheduled)
        before = (await team_lead.get(REPORT, params={"limit": 500})).json()["items"]
        assert case_id in {item["case_id"] for item in before}
        own = await team_lead.post(
            DECISIONS.format(case_id),
            json={
                "granted": False,
                "refusal_reason": "the family moves in with relatives",
                "rehousing_outcome": "own_solution",
            },
        )
        assert own.status_code == 201, own.text
        case = (await team_lead.get(f"/v1/cases/{case_id}")).json()
        assert (case["stage"], case["rehousing_outcome"]) == ("eviction_scheduled", "own_solution")
        after = (await team_lead.get(REPORT, params={"limit": 500})).json()["items"]
        assert case_id not in {item["case_id"] for item in after}
        wrong = await team_lead.post(
            DECISIONS.format(case_id),
            json={"granted": False, "refusal_reason": "x", "rehousing_outcome": "temporary_housing_granted"},
        )
        assert wrong.status_code == 422
        assert wrong.json()["field"] == "rehousing_outcome"


async def test_a_housing_decision_before_an_eviction_date_is_409(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as team_lead:
        case_id = await evicted_case(team_lead, sessions, Stage.in_support)
        response = await team_lead.post(DECISIONS.format(case_id), json={"granted": False, "refusal_reason": "x"})
    assert response.status_code == 409, response.text
    assert "decide_temporary_housing" not in response.json()["allowed_actions"]
    assert await events(sessions, case_id, "temporary-housing.decided") == []
