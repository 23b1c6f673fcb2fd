"""The core of a case over HTTP: a signal opens a case, a second signal attaches (R2), the first contact
attempt moves it to outreach, and closing needs an outcome that fits the stage."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
from case_api_fixtures import made_up_household, made_up_signal

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


async def test_r2_a_second_signal_for_the_same_household_attaches_to_its_open_case(case_api_client: Client) -> None:
    async with case_api_client() as client:
        household = made_up_household(postcode="8912 CD", house_number="7")
        first = await client.post(
            "/v1/signals", json={"team": "team-noord", "household": household, "signal": made_up_signal()}
        )
        assert first.status_code == 201, first.text
        assert first.json()["case_opened"] is True
        second = await client.post(
            "/v1/signals",
            json={
                "team": "team-noord",
                "household": household,
                "signal": made_up_signal(partner_kind="utility", signal_date="2026-02-28"),
            },
        )
        assert second.status_code == 201, second.text
        assert second.json()["case_opened"] is False
        assert second.json()["case_id"] == first.json()["case_id"]
        assert second.json()["multiple"] is True  # two signals in February
        case = (await client.get(f"/v1/cases/{first.json()['case_id']}")).json()
        assert case["priority"] == "highest"  # two children (R10)
        assert case["has_minors"] is True
        assert len(case["signals"]) == 2


async def test_the_first_contact_attempt_moves_a_signalled_case_to_outreach(case_api_client: Client) -> None:
    async with case_api_client() as client:
        opened = await client.post(
            "/v1/signals",
            json={"team": "team-noord", "household": made_up_household(postcode="8913 EF"), "signal": made_up_signal()},
        )
        case_id = opened.json()["case_id"]
        attempt = await client.post(
            f"/v1/cases/{case_id}/contact-attempts", json={"channel": "phone", "reached": False}
        )
        assert attempt.status_code == 201, attempt.text
        case = (await client.get(f"/v1/cases/{case_id}")).json()
        assert case["stage"] == "outreach"
        assert case["first_contact_at"] is not None
        refused = await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "evicted"})
        assert refused.status_code == 422
        closed = await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert closed.status_code == 200, closed.text
        again = await client.post(f"/v1/cases/{case_id}/contact-attempts", json={"channel": "sms", "reached": True})
        assert again.status_code == 409
        assert again.json()["allowed_actions"] == []


async def test_an_all_zero_traceparent_is_refused_as_the_w3c_rule_says_not_answered_500(
    case_api_client: Client,
) -> None:
    async with case_api_client() as client:
        opened = await client.post(
            "/v1/signals",
            json={"team": "team-noord", "household": made_up_household(postcode="8914 GH"), "signal": made_up_signal()},
        )
        response = await client.post(
            f"/v1/cases/{opened.json()['case_id']}/contact-attempts",
            json={"channel": "sms", "reached": False},
            headers={"traceparent": "00-" + "0" * 32 + "-" + "0" * 16 + "-00"},
        )
    assert response.status_code == 422
    assert response.json()["field"] == "traceparent"


async def test_a_page_offset_beyond_any_list_is_refused_not_answered_500(case_api_client: Client) -> None:
    async with case_api_client() as client:
        response = await client.get("/v1/tasks", params={"offset": 131789390328495297915428798464})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "offset"
