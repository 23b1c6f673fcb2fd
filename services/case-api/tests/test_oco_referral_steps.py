"""MEE Noord's steps on a referral (accepted, contact made, support started and ended, declined) recorded on the
case's OCO referral, which its reference (the consent's id) names; the referral's process as data; support
through the referral is the case's support of that kind. Second-chance agreements offered and signed (signed:
the eviction is averted). Every step is an event without personal data. Households are made up."""

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.db import OutboxRecord
from case_api.oco.models import ReferralStatus, ReferralStepKind
from case_api.oco.service import REFERRAL_PROCESS, allowed_steps
from eviction_schemas.registry import validate_event

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
PREFIX = "nl.eviction-prevention."


async def open_case(client: httpx.AsyncClient, *, house_number: str) -> str:
    household = made_up_household(house_number=house_number, children_born=())
    response = await client.post(
        "/v1/signals", json={"team": "team-noord", "household": household, "signal": made_up_signal()}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["case_id"])


async def threatened_case_with_consent(client: httpx.AsyncClient, *, house_number: str) -> tuple[str, str]:
    """A case whose eviction is threatened, where the household accepted OCO with its consent (the referral)."""
    case_id = await open_case(client, house_number=house_number)
    step = {"kind": "eviction_requested", "occurred_on": "2026-03-02"}
    assert (await client.post(f"/v1/cases/{case_id}/legal-steps", json=step)).status_code == 201
    offer = await client.post(
        f"/v1/cases/{case_id}/oco-offers", json={"moment": "threat_started", "channels": ["letter", "sms"]}
    )
    assert offer.status_code == 201, offer.text
    consent = {"given_by": "the tenant", "method": "phone", "purpose": "referral to MEE Noord"}
    answered = await client.post(
        f"/v1/cases/{case_id}/oco-offers/{offer.json()['id']}/answer", json={"answer": "accepted", "consent": consent}
    )
    assert answered.status_code == 200, answered.text
    return case_id, str(answered.json()["consent_id"])


async def step(client: httpx.AsyncClient, case_id: str, reference: str, **body: Any) -> httpx.Response:
    body.setdefault("occurred_on", "2026-03-02")
    return await client.post(f"/v1/cases/{case_id}/oco-referrals/{reference}/steps", json=body)


async def events_of(sessions: Sessions, case_id: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        query = select(OutboxRecord).where(OutboxRecord.key == case_id).order_by(OutboxRecord.id)
        return [json.loads(row.payload) for row in await session.scalars(query)]


def names(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"].removeprefix(PREFIX) for event in events]


def test_the_referrals_process_table() -> None:
    assert allowed_steps(ReferralStatus.referred) == [ReferralStepKind.accepted, ReferralStepKind.declined]
    assert allowed_steps(ReferralStatus.in_support) == [ReferralStepKind.contact_made, ReferralStepKind.support_ended]
    assert allowed_steps(ReferralStatus.support_ended) == []
    assert allowed_steps(ReferralStatus.declined) == []
    assert set(REFERRAL_PROCESS) == set(ReferralStepKind)


async def test_mee_noords_lifecycle_is_recorded_on_the_referral_and_its_support_is_the_cases(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client(roles=("partner_gateway",), team=None) as gateway, case_api_client() as staff:
        case_id, reference = await threatened_case_with_consent(staff, house_number="801")
        before = len(await events_of(sessions, case_id))

        accepted = await step(gateway, case_id, reference, kind="accepted")
        assert accepted.status_code == 201, accepted.text
        assert (accepted.json()["reference"], accepted.json()["status"]) == (reference, "accepted")
        contact = await step(gateway, case_id, reference, kind="contact_made", channel="visit")
        assert contact.json()["status"] == "in_contact", contact.text
        started = await step(gateway, case_id, reference, kind="support_started", support_kind="budget_management")
        assert started.status_code == 201, started.text
        support_id = started.json()["steps"][-1]["support_id"]
        [support] = (await staff.get(f"/v1/cases/{case_id}/support")).json()["items"]
        assert (support["id"], support["kind"], support["active"]) == (support_id, "budget_management", True)
        ended = await step(gateway, case_id, reference, kind="support_ended")
        assert ended.json()["status"] == "support_ended", ended.text
        [support] = (await staff.get(f"/v1/cases/{case_id}/support")).json()["items"]
        assert (support["active"], support["ended_on"]) == (False, "2026-03-02")

        [referral] = (await staff.get(f"/v1/cases/{case_id}/oco-referrals")).json()
        overview = (await staff.get(f"/v1/cases/{case_id}/oco")).json()
        timeline = (await staff.get(f"/v1/cases/{case_id}/timeline")).json()

    assert [s["kind"] for s in referral["steps"]] == ["accepted", "contact_made", "support_started", "support_ended"]
    assert (referral["status"], referral["allowed_steps"]) == ("support_ended", [])
    assert overview["referrals"] == [referral]
    events = (await events_of(sessions, case_id))[before:]
    assert names(events) == [
        "oco.referral-accepted",
        "oco.referral-contact-made",
        "support.started",
        "oco.referral-support-started",
        "support.ended",
        "oco.referral-support-ended",
    ]
    for event in events:
        validate_event(event)
    assert events[1]["data"] == {"consent_id": reference, "contacted_on": "2026-03-02", "channel": "visit"}
    assert events[3]["data"] == {
        "consent_id": reference,
        "started_on": "2026-03-02",
        "kind": "budget_management",
        "support_id": support_id,
    }
    # The case's timeline shows MEE Noord's lifecycle.
    shown = [entry["event"] for entry in timeline["items"]]
    assert [name for name in shown if name.startswith("oco.referral-")] == [
        "oco.referral-accepted",
        "oco.referral-contact-made",
        "oco.referral-support-started",
        "oco.referral-support-ended",
    ]


async def test_a_step_the_referrals_process_forbids_is_refused_naming_the_allowed_steps(
    case_api_client: Client,
) -> None:
    async with case_api_client(roles=("partner_gateway",), team=None) as gateway, case_api_client() as staff:
        case_id, reference = await threatened_case_with_consent(staff, house_number="802")
        early = await step(gateway, case_id, reference, kind="support_ended")
        declined = await step(gateway, case_id, reference, kind="declined")
        after = await step(gateway, case_id, reference, kind="accepted")
        unknown = await step(gateway, case_id, "0b6f4e2a-3c1d-4e5f-a7b8-c9d0e1f2a3b4", kind="accepted")
        no_channel = await step(gateway, case_id, reference, kind="contact_made")

    assert early.status_code == 409, early.text
    assert (early.json()["field"], early.json()["allowed_steps"]) == ("kind", ["accepted", "declined"])
    assert declined.status_code == 201
    assert declined.json()["status"] == "declined"
    assert after.status_code == 409
    assert after.json()["allowed_steps"] == []
    assert "declined" in after.json()["detail"]
    assert unknown.status_code == 404
    assert unknown.json()["field"] == "reference"
    assert no_channel.status_code == 422
    assert no_channel.json()["field"] == "channel"


async def test_a_withdrawn_consent_takes_no_new_step_but_an_end(case_api_client: Client) -> None:
    async with case_api_client(roles=("partner_gateway",), team=None) as gateway, case_api_client() as staff:
        case_id, reference = await threatened_case_with_consent(staff, house_number="803")
        assert (await step(gateway, case_id, reference, kind="accepted")).status_code == 201
        withdrawn = await staff.post(f"/v1/cases/{case_id}/oco-consents/{reference}/withdraw")
        assert withdrawn.status_code == 200, withdrawn.text
        contact = await step(gateway, case_id, reference, kind="contact_made", channel="phone")
        declined = await step(gateway, case_id, reference, kind="declined")

    assert contact.status_code == 409, contact.text
    assert "withdrew" in contact.json()["detail"]
    assert declined.status_code == 201, declined.text


async def test_support_through_a_referral_leaves_a_running_support_of_that_kind_alone(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client(roles=("partner_gateway",), team=None) as gateway, case_api_client() as staff:
        case_id, reference = await threatened_case_with_consent(staff, house_number="804")
        running = await staff.post(f"/v1/cases/{case_id}/support", json={"kind": "debt_counselling"})
        assert running.status_code == 201, running.text
        await step(gateway, case_id, reference, kind="accepted")
        started = await step(gateway, case_id, reference, kind="support_started", support_kind="debt_counselling")
        ended = await step(gateway, case_id, reference, kind="support_ended")
        [support] = (await staff.get(f"/v1/cases/{case_id}/support")).json()["items"]

    assert started.status_code == 201, started.text
    assert started.json()["steps"][-1]["support_id"] is None
    assert ended.status_code == 201, ended.text
    assert (support["id"], support["active"]) == (running.json()["id"], True)  # the municipality's own goes on
    last = names(await events_of(sessions, case_id))[-2:]
    assert last == ["oco.referral-support-started", "oco.referral-support-ended"]


async def test_a_signed_second_chance_agreement_averts_the_eviction(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client(roles=("partner_gateway",), team=None) as gateway, case_api_client() as staff:
        case_id = await open_case(staff, house_number="811")
        schedule = {"eviction_date": "2026-04-20", "served_on": "2026-03-02"}
        assert (await gateway.post(f"/v1/cases/{case_id}/eviction/schedule", json=schedule)).status_code == 200
        url = f"/v1/cases/{case_id}/second-chance-agreements"
        offered = await gateway.post(url, json={"offered_on": "2026-03-01", "partner_id": "woonfriesland"})
        assert offered.status_code == 201, offered.text
        assert (offered.json()["stage"], offered.json()["eviction_averted"]) == ("eviction_scheduled", False)
        again = await gateway.post(url, json={"offered_on": "2026-03-01"})
        signed = await gateway.post(url, json={"offered_on": "2026-03-01", "signed_on": "2026-03-02"})
        twice = await gateway.post(url, json={"offered_on": "2026-03-01", "signed_on": "2026-03-02"})
        listed = (await staff.get(url)).json()
        eviction = (await staff.get(f"/v1/cases/{case_id}/eviction")).json()

    assert again.status_code == 409, again.text
    assert again.json()["field"] == "offered_on"
    assert signed.status_code == 201, signed.text
    assert (signed.json()["id"], signed.json()["stage"], signed.json()["eviction_averted"]) == (
        offered.json()["id"],
        "averted",
        True,
    )
    assert twice.status_code == 409
    assert twice.json()["field"] == "signed_on"
    assert [(a["offered_on"], a["signed_on"], a["partner_id"]) for a in listed] == [
        ("2026-03-01", "2026-03-02", "woonfriesland")
    ]
    assert (eviction["eviction_date"], eviction["history"][-1]["reason_code"]) == (None, "second_chance_agreement")
    events = await events_of(sessions, case_id)
    for event in events:
        validate_event(event)
    shown = [(name, event["data"]) for name, event in zip(names(events), events, strict=True) if "task." not in name]
    assert [name for name, _ in shown[-3:]] == [
        "second-chance-agreement.offered",
        "eviction.cancelled",
        "second-chance-agreement.signed",
    ]
    signed_event = shown[-1][1]
    assert signed_event == {"agreement_id": offered.json()["id"], "signed_on": "2026-03-02", "eviction_averted": True}


async def test_a_second_chance_agreement_before_the_legal_track_is_recorded_without_averting(
    case_api_client: Client,
) -> None:
    async with case_api_client(roles=("partner_gateway",), team=None) as gateway, case_api_client() as staff:
        case_id = await open_case(staff, house_number="812")
        url = f"/v1/cases/{case_id}/second-chance-agreements"
        signed = await gateway.post(url, json={"offered_on": "2026-03-02", "signed_on": "2026-03-02"})
        future = await gateway.post(url, json={"offered_on": "2026-03-03"})
        closed = await staff.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert closed.status_code == 200, closed.text
        after_close = await gateway.post(url, json={"offered_on": "2026-03-02"})

    assert signed.status_code == 201, signed.text
    assert (signed.json()["stage"], signed.json()["eviction_averted"]) == ("signalled", False)
    assert future.status_code == 422
    assert future.json()["field"] == "offered_on"
    assert after_close.status_code == 409
    assert after_close.json()["field"] == "stage"
