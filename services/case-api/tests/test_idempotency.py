"""Idempotency-Key (contract.md: every write accepts it): a repeated write gets the first answer and changes
nothing again; the same key for another request is refused; a refused write does not use its key up."""

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.cases.models import Case
from case_api.config import Settings
from case_api.context import Context
from case_api.db import OutboxRecord
from case_api.households.models import Household
from case_api.idempotency.models import IdempotencyRecord
from case_api.idempotency.service import fingerprint
from case_api.retention.service import RETENTION_PRINCIPAL, erase_cases
from service_kit.clock import FixedClock

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]


def signal_body(postcode: str, **signal: object) -> dict[str, object]:
    household = made_up_household(postcode=postcode, house_number="3")
    return {"team": "team-noord", "household": household, "signal": made_up_signal(**signal)}


async def test_a_repeated_post_with_the_same_idempotency_key_creates_one_case_and_one_event_each(
    case_api_client: Client, sessions: Sessions
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    async with case_api_client() as client:
        first = await client.post("/v1/signals", json=signal_body("8931 AA"), headers=key)
        assert first.status_code == 201, first.text
        again = await client.post("/v1/signals", json=signal_body("8931 AA"), headers=key)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotency-Replayed"] == "true"
    case_id = first.json()["case_id"]
    async with sessions() as session:
        cases = await session.scalar(
            select(func.count()).select_from(Case).join(Household).where(Household.postcode == "8931 AA")
        )
        events = (await session.scalars(select(OutboxRecord.event_type).where(OutboxRecord.key == case_id))).all()
    assert cases == 1
    assert sorted(events) == ["nl.eviction-prevention.case.opened", "nl.eviction-prevention.signal.received"]


async def test_the_same_idempotency_key_with_a_different_request_is_refused_naming_the_header(
    case_api_client: Client, sessions: Sessions
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    async with case_api_client() as client:
        first = await client.post("/v1/signals", json=signal_body("8932 AA"), headers=key)
        assert first.status_code == 201, first.text
        other = await client.post("/v1/signals", json=signal_body("8932 AA", arrears_amount="99.00"), headers=key)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["field"] == "Idempotency-Key"
    async with sessions() as session:
        events = await session.scalar(
            select(func.count()).select_from(OutboxRecord).where(OutboxRecord.key == first.json()["case_id"])
        )
    assert events == 2  # the refused request wrote nothing


async def test_a_refused_write_does_not_store_an_answer_so_its_key_can_be_used_again(
    case_api_client: Client, sessions: Sessions
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    async with case_api_client() as client:
        opened = await client.post("/v1/signals", json=signal_body("8933 AA"))
        case_id = opened.json()["case_id"]
        refused = await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "evicted"}, headers=key)
        assert refused.status_code == 422
        closed = await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"}, headers=key)
        assert closed.status_code == 200, closed.text
        replayed = await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"}, headers=key)
    assert replayed.status_code == 200  # not 409 "already closed": the first answer again
    assert replayed.json() == closed.json()
    async with sessions() as session:
        record = (
            await session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.key == key["Idempotency-Key"]))
        ).one()
    assert record.status_code == 200
    assert record.caller == "caseworker-1"
    body = b'{"outcome_code":"no_help_wanted"}'
    assert record.request_fingerprint == fingerprint("POST", f"/v1/cases/{case_id}/close", body)


async def test_an_idempotency_key_longer_than_200_characters_is_refused(case_api_client: Client) -> None:
    async with case_api_client() as client:
        response = await client.post("/v1/signals", json=signal_body("8934 AA"), headers={"Idempotency-Key": "k" * 201})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_writes_without_an_idempotency_key_run_each_time(case_api_client: Client) -> None:
    async with case_api_client() as client:
        first = await client.post("/v1/signals", json=signal_body("8935 AA"))
        second = await client.post("/v1/signals", json=signal_body("8935 AA", signal_date="2026-02-28"))
    assert first.json()["case_opened"] is True
    assert second.json()["case_opened"] is False
    assert second.json()["signal_id"] != first.json()["signal_id"]


async def test_stored_answers_hold_no_bsn_or_name_in_the_clear_and_go_with_the_erased_case(
    case_api_client: Client, sessions: Sessions, case_api_db: str, clock: FixedClock
) -> None:
    """Issue 11 (R15): the answer of PUT household, which shows a debt counsellor the full BSN, was stored in plain
    text in idempotency_record. It is stored encrypted now, and erasing the case erases its stored answers."""
    bsn = "111222333"  # made up; passes the eleven-test
    postcode = f"{1000 + uuid.uuid4().int % 9000} ID"
    household = made_up_household(postcode=postcode, house_number="7", bsn=bsn)
    opening, change = str(uuid.uuid4()), str(uuid.uuid4())
    async with case_api_client(roles=("debt_counsellor",)) as counsellor:
        opened = await counsellor.post(
            "/v1/signals",
            json={"team": "team-noord", "household": household, "signal": made_up_signal()},
            headers={"Idempotency-Key": opening},
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        first = await counsellor.put(
            f"/v1/cases/{case_id}/household", json=household, headers={"Idempotency-Key": change}
        )
        assert first.status_code == 200, first.text
        assert first.json()["bsn"] == bsn  # a debt counsellor sees the full number
        again = await counsellor.put(
            f"/v1/cases/{case_id}/household", json=household, headers={"Idempotency-Key": change}
        )
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()

    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT key, case_id, response_body, request_fingerprint FROM idempotency_record"
                    " WHERE key IN (:a, :b)"
                ),
                {"a": opening, "b": change},
            )
        ).all()
    assert {row.key: row.case_id for row in rows} == {opening: case_id, change: case_id}
    for row in rows:
        stored = bytes(row.response_body) + row.request_fingerprint.encode()
        for clear in (bsn, "Testhuis", "Proefstraat", postcode, "jelle.testhuis"):
            assert clear.encode() not in stored

    async with case_api_client() as lead:
        closed = await lead.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert closed.status_code == 200, closed.text
    settings = Settings(_env_file=None, database_url=case_api_db)  # type: ignore[call-arg]
    async with sessions() as session, session.begin():
        ctx = Context(session=session, settings=settings, clock=clock, principal=RETENTION_PRINCIPAL)
        await erase_cases(ctx, [case_id])
    async with sessions() as session:
        left = await session.scalar(
            select(func.count()).select_from(IdempotencyRecord).where(IdempotencyRecord.key.in_([opening, change]))
        )
    assert left == 0
