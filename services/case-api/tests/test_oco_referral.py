"""R9, R17: the partner gateway reads a referral to MEE Noord from case-api when it sends it
(GET /v1/cases/{id}/oco-referral?consentId=...), only on a recorded consent that is not withdrawn, only what
the contract lists (name, contact details, language, household composition, eviction date), and every read is
in the processing log. Names, addresses and BSNs here are made up."""

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

from case_api.audit.models import Operation, ProcessingLogEntry
from case_api.cases.models import Case, Stage

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)
EVICTION_DATE = date(2026, 4, 15)
CONSENT = {"given_by": "J. Testhuis (tenant)", "method": "phone", "purpose": "referral to MEE Noord for OCO"}
# What a referral may carry (contract.md, MEE Noord), and nothing else.
REFERRAL_KEYS = {"case_id", "consent", "names", "contact", "language", "household", "eviction_date"}


def made_up_bsn() -> str:
    """A random number that passes the eleven-test (one per case: R2 joins a signal to the open case of a BSN)."""
    while True:
        prefix = f"{uuid.uuid4().int % 10**8:08d}"
        check = sum(int(digit) * weight for digit, weight in zip(prefix, WEIGHTS, strict=True)) % 11
        if check < 10 and prefix[0] != "0":
            return prefix + str(check)


def gateway(case_api_client: Client) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return case_api_client(roles=("partner_gateway",), team=None)


async def accepted_case(
    client: httpx.AsyncClient, sessions: Sessions, *, answer: str = "accepted", bsn: str | None = None
) -> tuple[str, str]:
    """A case with minors and a BSN, its eviction scheduled, whose household answered an OCO offer; the case's id
    and the consent's id ("" when declined)."""
    household = made_up_household(
        postcode=f"{1000 + uuid.uuid4().int % 9000} RF",
        house_number=str(1 + uuid.uuid4().int % 10**9),
        bsn=bsn or made_up_bsn(),
    )
    members = household["members"]
    assert isinstance(members, list)
    members.append(
        {"role": "co_tenant", "initials": "A.", "given_name": "Anna", "surname_prefix": "van", "surname": "Proef"}
    )
    opened = await client.post("/v1/signals", json={"team": TEAM, "household": household, "signal": made_up_signal()})
    assert opened.status_code == 201, opened.text
    case_id = str(opened.json()["case_id"])
    async with sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        case.stage, case.eviction_date = Stage.eviction_scheduled, EVICTION_DATE
    offer = await client.post(
        f"/v1/cases/{case_id}/oco-offers", json={"moment": "date_set", "channels": ["sms", "letter"]}
    )
    assert offer.status_code == 201, offer.text
    body: dict[str, Any] = {"answer": answer, **({"consent": CONSENT} if answer == "accepted" else {})}
    answered = await client.post(f"/v1/cases/{case_id}/oco-offers/{offer.json()['id']}/answer", json=body)
    assert answered.status_code == 200, answered.text
    return case_id, answered.json()["consent_id"] or ""


async def referral_reads(sessions: Sessions, case_id: str) -> list[ProcessingLogEntry]:
    async with sessions() as session:
        query = select(ProcessingLogEntry).where(
            ProcessingLogEntry.case_id == case_id, ProcessingLogEntry.activity == "oco-referral"
        )
        return list((await session.scalars(query)).all())


async def test_r9_the_gateway_reads_exactly_the_referral_on_a_valid_consent_and_the_read_is_logged(
    case_api_client: Client, sessions: Sessions
) -> None:
    bsn = made_up_bsn()
    async with case_api_client() as client:
        case_id, consent_id = await accepted_case(client, sessions, bsn=bsn)
    async with gateway(case_api_client) as client:
        answer = await client.get(f"/v1/cases/{case_id}/oco-referral", params={"consentId": consent_id})

    assert answer.status_code == 200, answer.text
    referral = answer.json()
    assert set(referral) == REFERRAL_KEYS
    assert referral["consent"] == {
        "id": consent_id,
        "given_at": referral["consent"]["given_at"],
        "method": "phone",
        "purpose": CONSENT["purpose"],
    }
    # The tenants by name; the children are counted, never named.
    assert [(n["role"], n["given_name"], n["surname_prefix"], n["surname"]) for n in referral["names"]] == [
        ("tenant", "Jelle", "", "Testhuis"),
        ("co_tenant", "Anna", "van", "Proef"),
    ]
    assert referral["household"] == {"adults": 2, "minors": 2}
    assert referral["contact"]["email"] == "jelle.testhuis@example.invalid"
    assert referral["contact"]["mobile"] == "0612345678"
    assert referral["contact"]["address"]["street"] == "Proefstraat"
    assert (referral["language"], referral["eviction_date"]) == ("nl", EVICTION_DATE.isoformat())
    text = json.dumps(referral)
    for absent in (
        bsn,
        "*" * 6 + bsn[-3:],
        "1234.56",
        "1234,56",
        "Kind1",
        "Kind2",
        "2015-06-01",
        "J. Testhuis (tenant)",
    ):
        assert absent not in text, absent
    for absent_field in ("bsn", "arrears_amount", "given_by", "birth_date", "team", "priority", "support"):
        assert f'"{absent_field}"' not in text, absent_field

    [read] = await referral_reads(sessions, case_id)
    assert (read.operation, read.actor_roles) == (Operation.read, "partner_gateway")


@pytest.mark.parametrize("roles", [("team_lead",), ("admin",), ("debt_counsellor",)])
async def test_r9_only_the_partner_gateway_reads_a_referral(
    case_api_client: Client, sessions: Sessions, roles: tuple[str, ...]
) -> None:
    async with case_api_client() as client:
        case_id, consent_id = await accepted_case(client, sessions)
    team = None if roles == ("admin",) else TEAM
    async with case_api_client(roles=roles, team=team) as client:
        answer = await client.get(f"/v1/cases/{case_id}/oco-referral", params={"consentId": consent_id})
    assert answer.status_code == 403, answer.text
    assert await referral_reads(sessions, case_id) == []


async def test_r9_a_withdrawn_consent_gives_no_referral(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        case_id, consent_id = await accepted_case(client, sessions)
        withdrawn = await client.post(f"/v1/cases/{case_id}/oco-consents/{consent_id}/withdraw")
        assert withdrawn.status_code == 200, withdrawn.text
    async with gateway(case_api_client) as client:
        answer = await client.get(f"/v1/cases/{case_id}/oco-referral", params={"consentId": consent_id})
    assert answer.status_code == 409, answer.text
    assert answer.json()["field"] == "consentId"
    assert "Testhuis" not in answer.text
    assert await referral_reads(sessions, case_id) == []


async def test_r9_a_declined_offer_has_no_consent_to_refer_on(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        case_id, consent_id = await accepted_case(client, sessions, answer="declined")
        assert consent_id == ""
    async with gateway(case_api_client) as client:
        unknown = await client.get(f"/v1/cases/{case_id}/oco-referral", params={"consentId": str(uuid.uuid4())})
        missing = await client.get(f"/v1/cases/{case_id}/oco-referral")
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["field"] == "consentId"
    assert missing.status_code == 400, missing.text
    assert await referral_reads(sessions, case_id) == []


async def test_r9_another_case_s_consent_does_not_open_this_case(case_api_client: Client, sessions: Sessions) -> None:
    async with case_api_client() as client:
        case_id, _ = await accepted_case(client, sessions)
        _, other_consent_id = await accepted_case(client, sessions)
    async with gateway(case_api_client) as client:
        answer = await client.get(f"/v1/cases/{case_id}/oco-referral", params={"consentId": other_consent_id})
    assert answer.status_code == 404, answer.text


async def test_after_an_executed_eviction_the_referral_has_no_home_address(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        case_id, consent_id = await accepted_case(client, sessions)
    async with sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        case.stage = Stage.evicted
    async with gateway(case_api_client) as client:
        answer = await client.get(f"/v1/cases/{case_id}/oco-referral", params={"consentId": consent_id})
    assert answer.status_code == 200, answer.text
    assert answer.json()["contact"]["address"] is None
    assert "Proefstraat" not in answer.text
