"""Who may do what: each role refused where it must be (contract.md, R16)."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
from case_api_fixtures import made_up_household, made_up_signal

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


async def open_case(client: httpx.AsyncClient, postcode: str, team: str = "team-noord") -> str:
    body = {"team": team, "household": made_up_household(postcode=postcode), "signal": made_up_signal()}
    opened = await client.post("/v1/signals", json=body)
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


async def test_r16_a_policy_analyst_is_refused_every_case_endpoint_and_the_lists(case_api_client: Client) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, "8961 AA")
    body = {"team": "team-noord", "household": made_up_household(postcode="8961 AB"), "signal": made_up_signal()}
    async with case_api_client(roles=("policy_analyst",), team=None) as analyst:
        responses = [
            await analyst.get(f"/v1/cases/{case_id}"),
            await analyst.get(f"/v1/cases/{case_id}/timeline"),
            await analyst.get("/v1/cases"),
            await analyst.post("/v1/signals", json=body),
            await analyst.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"}),
        ]
    assert [response.status_code for response in responses] == [403] * len(responses)
    assert all(response.headers["content-type"] == "application/problem+json" for response in responses)


async def test_r16_an_outreach_worker_of_another_team_gets_not_found_for_a_case_of_team_noord(
    case_api_client: Client,
) -> None:
    async with case_api_client() as client:
        case_id = await open_case(client, "8962 AA")
    async with case_api_client(roles=("outreach_worker",), team="team-zuid") as other:
        read = await other.get(f"/v1/cases/{case_id}")
        write = await other.post(f"/v1/cases/{case_id}/contact-attempts", json={"channel": "sms", "reached": False})
    assert read.status_code == 404
    assert write.status_code == 404


async def test_a_request_without_a_token_is_answered_401(case_api_client: Client) -> None:
    async with case_api_client(roles=()) as anonymous:
        response = await anonymous.get("/v1/cases")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_token_with_only_unknown_roles_is_answered_403(case_api_client: Client) -> None:
    async with case_api_client(roles=("janitor", "superuser"), team="team-noord") as unknown:
        response = await unknown.get("/v1/cases")
    assert response.status_code == 403


async def test_the_partner_gateway_service_role_reads_no_case_nor_the_list_of_cases(case_api_client: Client) -> None:
    """Issue 11: the gateway's token read every team's names and addresses through these two (200)."""
    async with case_api_client() as noord:
        noord_case = await open_case(noord, "8963 AA")
    async with case_api_client(team="team-zuid") as zuid:
        zuid_case = await open_case(zuid, "8963 AB", team="team-zuid")
    async with case_api_client(roles=("partner_gateway",), team=None) as gateway:
        answers = [
            await gateway.get(f"/v1/cases/{noord_case}"),
            await gateway.get(f"/v1/cases/{zuid_case}"),
            await gateway.get("/v1/cases"),
            await gateway.get(f"/v1/cases/{zuid_case}/timeline"),
            await gateway.post(f"/v1/cases/{zuid_case}/close", json={"outcome_code": "no_help_wanted"}),
            await gateway.post(f"/v1/cases/{zuid_case}/contact-attempts", json={"channel": "sms", "reached": False}),
        ]
        # What it does need still reaches every team's case: a legal step forwarded from a partner's message.
        step = await gateway.post(
            f"/v1/cases/{zuid_case}/legal-steps", json={"kind": "eviction_requested", "occurred_on": "2026-03-02"}
        )
    assert [answer.status_code for answer in answers] == [403] * len(answers)
    assert all("names" not in answer.text and "address" not in answer.text for answer in answers)
    assert step.status_code != 403, step.text


async def test_an_admin_sees_the_cases_of_every_team(case_api_client: Client) -> None:
    async with case_api_client() as noord:
        noord_case = await open_case(noord, "8964 AA")
    async with case_api_client(team="team-zuid") as zuid:
        zuid_case = await open_case(zuid, "8964 AB", team="team-zuid")
    async with case_api_client(roles=("admin",), team=None) as admin:
        assert (await admin.get(f"/v1/cases/{noord_case}")).status_code == 200
        assert (await admin.get(f"/v1/cases/{zuid_case}")).status_code == 200
        listed = (await admin.get("/v1/cases", params={"limit": 100})).json()["items"]
    assert {noord_case, zuid_case} <= {case["id"] for case in listed}
    assert {case["team"] for case in listed} >= {"team-noord", "team-zuid"}


async def test_a_team_lead_sees_no_case_of_another_team(case_api_client: Client) -> None:
    async with case_api_client(team="team-zuid") as zuid:
        zuid_case = await open_case(zuid, "8965 AB", team="team-zuid")
    async with case_api_client() as noord:
        assert (await noord.get(f"/v1/cases/{zuid_case}")).status_code == 404
        listed = (await noord.get("/v1/cases", params={"limit": 100})).json()["items"]
    assert {case["team"] for case in listed} <= {"team-noord"}
