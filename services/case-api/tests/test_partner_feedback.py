"""R3: signal partners learn whether their signal was picked up, never why not."""

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
from case_api_fixtures import made_up_household, made_up_signal

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
REASON = "Bewoner is opgenomen in de GGZ-kliniek"


async def test_r3_the_partner_sees_whether_its_signal_was_picked_up_but_never_why_not(case_api_client: Client) -> None:
    partner = f"corporation-{uuid.uuid4().hex[:8]}"
    async with case_api_client() as client:
        bodies = [
            {
                "team": "team-noord",
                "household": made_up_household(postcode=postcode),
                "signal": made_up_signal(partner_id=partner, partner_reference=reference),
            }
            for postcode, reference in (("8971 AA", "tenancy-a"), ("8971 AB", "tenancy-b"), ("8971 AC", "tenancy-c"))
        ]
        receipts = [(await client.post("/v1/signals", json=body)).json() for body in bodies]
        not_picked = receipts[0]
        decided = await client.put(
            f"/v1/cases/{not_picked['case_id']}/signals/{not_picked['signal_id']}/pickup",
            json={"picked_up": False, "reason": REASON},
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["reason"] == REASON  # the caseworker sees the reason
        picked = receipts[1]
        await client.post(f"/v1/cases/{picked['case_id']}/contact-attempts", json={"channel": "phone", "reached": True})
    async with case_api_client(roles=("partner_gateway",), team=None) as gateway:
        feedback = await gateway.get("/v1/partner-feedback/signals", params={"partnerId": partner})
    assert feedback.status_code == 200, feedback.text
    by_reference = {item["reference"]: item["picked_up"] for item in feedback.json()["items"]}
    assert by_reference == {"tenancy-a": False, "tenancy-b": True, "tenancy-c": None}
    text = json.dumps(feedback.json())
    assert REASON not in text
    assert "reason" not in text
    assert "Testhuis" not in text
    assert "1234.56" not in text


async def test_r3_only_the_partner_gateway_reads_partner_feedback(case_api_client: Client) -> None:
    async with case_api_client() as team_lead:
        response = await team_lead.get("/v1/partner-feedback/signals", params={"partnerId": "corporation-test"})
    assert response.status_code == 403


async def test_r3_a_reason_is_refused_for_a_signal_that_was_picked_up(case_api_client: Client) -> None:
    body = {"team": "team-noord", "household": made_up_household(postcode="8972 AA"), "signal": made_up_signal()}
    async with case_api_client() as client:
        receipt = (await client.post("/v1/signals", json=body)).json()
        response = await client.put(
            f"/v1/cases/{receipt['case_id']}/signals/{receipt['signal_id']}/pickup",
            json={"picked_up": True, "reason": REASON},
        )
    assert response.status_code == 400


async def test_r3_the_partner_gateway_cannot_record_a_pickup_decision(case_api_client: Client) -> None:
    body = {"team": "team-noord", "household": made_up_household(postcode="8973 AA"), "signal": made_up_signal()}
    async with case_api_client() as client:
        receipt = (await client.post("/v1/signals", json=body)).json()
    async with case_api_client(roles=("partner_gateway",), team=None) as gateway:
        response = await gateway.put(
            f"/v1/cases/{receipt['case_id']}/signals/{receipt['signal_id']}/pickup", json={"picked_up": True}
        )
    assert response.status_code == 403
