"""OCO by MEE Noord (R8, R9): offers through at least two channels at the R8 moments until the household
answers; an acceptance only with a recorded consent, on which alone a referral with personal data may go.

The legal track belongs to another package: tests put a case in its legal stage directly in the database."""

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any

import httpx
import pytest
from case_api_fixtures import TEAM, made_up_household, made_up_signal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.cases.models import Case, Stage
from case_api.db import OutboxRecord
from case_api.oco.models import OcoMoment
from case_api.oco.service import due_oco_moments, oco_referral_allowed
from eviction_schemas.envelope import event_type

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
CONSENT = {"given_by": "J. Testhuis (tenant)", "method": "phone", "purpose": "referral to MEE Noord for OCO"}
TWO_CHANNELS = ["letter", "sms"]


def unique_postcode() -> str:
    return f"{1000 + uuid.uuid4().int % 9000} OC"


def unique_house_number() -> str:
    """With the postcode an address no other test uses: R2 would attach the signal to that case."""
    return str(1 + uuid.uuid4().int % 10**9)


async def open_case(client: httpx.AsyncClient) -> str:
    body = {
        "team": TEAM,
        "household": made_up_household(postcode=unique_postcode(), house_number=unique_house_number()),
        "signal": made_up_signal(),
    }
    response = await client.post("/v1/signals", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def put_in_stage(sessions: Sessions, case_id: str, stage: Stage, eviction_date: date | None = None) -> None:
    async with sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        case.stage = stage
        case.eviction_date = eviction_date


async def events(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord)
            .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
            .order_by(OutboxRecord.id)
        )
        return [json.loads(row.payload)["data"] for row in rows]


async def threatened_case(client: httpx.AsyncClient, sessions: Sessions) -> str:
    case_id = await open_case(client)
    await put_in_stage(sessions, case_id, Stage.eviction_threatened)
    return case_id


async def test_r8_offer_needs_two_channels(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        case_id = await threatened_case(client, sessions)
        one = await client.post(
            f"/v1/cases/{case_id}/oco-offers", json={"moment": "threat_started", "channels": ["sms", "sms"]}
        )
        assert one.status_code == 422, one.text
        assert (one.json()["field"], one.json()["rule"]) == ("channels", "R8")
        offered = await client.post(
            f"/v1/cases/{case_id}/oco-offers", json={"moment": "threat_started", "channels": TWO_CHANNELS}
        )
        assert offered.status_code == 201, offered.text
        assert offered.json()["channels"] == TWO_CHANNELS
        assert offered.json()["answer"] is None

    assert await events(sessions, case_id, "oco.offered") == [{"moment": "M3", "channels": TWO_CHANNELS}]


async def test_r8_no_offer_before_the_threat_and_after_eviction_only_after_an_eviction(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        early = await client.post(
            f"/v1/cases/{case_id}/oco-offers", json={"moment": "threat_started", "channels": TWO_CHANNELS}
        )
        assert early.status_code == 409
        assert "offer_oco" not in early.json()["allowed_actions"]
        await put_in_stage(sessions, case_id, Stage.eviction_scheduled, date(2026, 3, 20))
        wrong_moment = await client.post(
            f"/v1/cases/{case_id}/oco-offers", json={"moment": "after_eviction", "channels": TWO_CHANNELS}
        )
        assert wrong_moment.status_code == 409
        assert wrong_moment.json()["field"] == "moment"
        date_set = await client.post(
            f"/v1/cases/{case_id}/oco-offers", json={"moment": "date_set", "channels": ["letter", "sms", "email"]}
        )
        assert date_set.status_code == 201
        await put_in_stage(sessions, case_id, Stage.evicted, date(2026, 3, 20))
        after = await client.post(
            f"/v1/cases/{case_id}/oco-offers", json={"moment": "after_eviction", "channels": ["sms", "caseworker_task"]}
        )
        assert after.status_code == 201

    assert [data["moment"] for data in await events(sessions, case_id, "oco.offered")] == ["M4", "M7"]


def test_r8_an_offer_is_due_at_each_moment_until_the_household_answers() -> None:
    today = date(2026, 3, 2)
    due = due_oco_moments
    threatened = Stage.eviction_threatened
    scheduled = Stage.eviction_scheduled
    assert due(stage=threatened, eviction_date=None, today=today, offered=(), answered=False) == [
        OcoMoment.threat_started
    ]
    assert (
        due(stage=threatened, eviction_date=None, today=today, offered=[OcoMoment.threat_started], answered=False) == []
    )
    # The date is set: a new offer is due, also when the threat's offer was made.
    far = date(2026, 4, 1)
    offered = [OcoMoment.threat_started]
    assert due(stage=scheduled, eviction_date=far, today=today, offered=offered, answered=False) == [OcoMoment.date_set]
    offered.append(OcoMoment.date_set)
    assert due(stage=scheduled, eviction_date=far, today=today, offered=offered, answered=False) == []
    # 7 days before the date.
    assert due(stage=scheduled, eviction_date=date(2026, 3, 10), today=today, offered=offered, answered=False) == []
    assert due(stage=scheduled, eviction_date=date(2026, 3, 9), today=today, offered=offered, answered=False) == [
        OcoMoment.week_before
    ]
    # Once more after an eviction.
    offered.append(OcoMoment.week_before)
    assert due(stage=Stage.evicted, eviction_date=today, today=today, offered=offered, answered=False) == [
        OcoMoment.after_eviction
    ]
    offered.append(OcoMoment.after_eviction)
    assert due(stage=Stage.aftercare, eviction_date=today, today=today, offered=offered, answered=False) == []
    # An answer stops the offers; so does an averted eviction; no threat, no offer.
    assert due(stage=scheduled, eviction_date=far, today=today, offered=(), answered=True) == []
    assert due(stage=Stage.averted, eviction_date=None, today=today, offered=(), answered=False) == []
    assert due(stage=Stage.in_support, eviction_date=None, today=today, offered=(), answered=False) == []


async def test_r9_accept_without_consent_is_refused(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        case_id = await threatened_case(client, sessions)
        offer = (
            await client.post(
                f"/v1/cases/{case_id}/oco-offers", json={"moment": "threat_started", "channels": TWO_CHANNELS}
            )
        ).json()
        refused = await client.post(f"/v1/cases/{case_id}/oco-offers/{offer['id']}/answer", json={"answer": "accepted"})
        assert refused.status_code == 422, refused.text
        assert (refused.json()["field"], refused.json()["rule"]) == ("consent", "R9")
        assert (await client.get(f"/v1/cases/{case_id}/oco")).json()["answered"] is False

    async with sessions() as session:
        assert await oco_referral_allowed(session, case_id) is None
    assert await events(sessions, case_id, "oco.accepted") == []


async def test_r9_an_acceptance_records_the_consent_a_referral_rests_on_until_it_is_withdrawn(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await threatened_case(client, sessions)
        offer = (
            await client.post(
                f"/v1/cases/{case_id}/oco-offers", json={"moment": "threat_started", "channels": TWO_CHANNELS}
            )
        ).json()
        accepted = await client.post(
            f"/v1/cases/{case_id}/oco-offers/{offer['id']}/answer", json={"answer": "accepted", "consent": CONSENT}
        )
        assert accepted.status_code == 200, accepted.text
        consent_id = accepted.json()["consent_id"]
        overview = (await client.get(f"/v1/cases/{case_id}/oco")).json()
        assert (overview["answered"], overview["answer"], overview["referral_allowed"]) == (True, "accepted", True)
        assert overview["due_moments"] == []
        [consent] = overview["consents"]
        assert (consent["id"], consent["given_by"], consent["method"]) == (consent_id, "J. Testhuis (tenant)", "phone")

        async with sessions() as session:
            allowed = await oco_referral_allowed(session, case_id)
            assert allowed is not None
            assert allowed.id == consent_id

        again = await client.post(f"/v1/cases/{case_id}/oco-offers/{offer['id']}/answer", json={"answer": "declined"})
        assert again.status_code == 409
        withdrawn = await client.post(f"/v1/cases/{case_id}/oco-consents/{consent_id}/withdraw")
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["withdrawn_at"] is not None
        assert (await client.post(f"/v1/cases/{case_id}/oco-consents/{consent_id}/withdraw")).status_code == 409
        assert (await client.get(f"/v1/cases/{case_id}/oco")).json()["referral_allowed"] is False

    async with sessions() as session:
        assert await oco_referral_allowed(session, case_id) is None
    assert await events(sessions, case_id, "oco.accepted") == [{"moment": "M3", "consent_id": consent_id}]


async def test_r9_a_decline_carries_no_consent_and_stops_the_offers(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client)
        await put_in_stage(sessions, case_id, Stage.eviction_scheduled, date(2026, 3, 30))
        before = (await client.get(f"/v1/cases/{case_id}/oco")).json()
        assert before["due_moments"] == ["date_set"]
        offer = (
            await client.post(f"/v1/cases/{case_id}/oco-offers", json={"moment": "date_set", "channels": TWO_CHANNELS})
        ).json()
        with_consent = await client.post(
            f"/v1/cases/{case_id}/oco-offers/{offer['id']}/answer", json={"answer": "declined", "consent": CONSENT}
        )
        assert with_consent.status_code == 422
        assert with_consent.json()["field"] == "consent"
        declined = await client.post(
            f"/v1/cases/{case_id}/oco-offers/{offer['id']}/answer", json={"answer": "declined"}
        )
        assert declined.status_code == 200, declined.text
        assert declined.json()["consent_id"] is None
        overview = (await client.get(f"/v1/cases/{case_id}/oco")).json()
        assert (overview["answered"], overview["answer"], overview["referral_allowed"]) == (True, "declined", False)
        assert overview["due_moments"] == []

    async with sessions() as session:
        assert await oco_referral_allowed(session, case_id) is None
    assert await events(sessions, case_id, "oco.declined") == [{"moment": "M4"}]
