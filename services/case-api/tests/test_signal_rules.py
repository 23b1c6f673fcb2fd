"""R1 (what a signal records), R2 (matching, consecutive and multiple signals) and R15 (the BSN) over HTTP."""

import json
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import httpx
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.db import OutboxRecord
from service_kit.clock import FixedClock

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
# Fictitious numbers that only pass the eleven-test.
MADE_UP_BSN = "111222333"


def fresh_address() -> dict[str, str]:
    return {"postcode": f"{random.randint(1000, 9999)} QZ", "house_number": str(random.randint(1, 9999))}


async def signal(client: httpx.AsyncClient, household: dict[str, object], **overrides: object) -> dict[str, object]:
    response = await client.post(
        "/v1/signals", json={"team": "team-noord", "household": household, "signal": made_up_signal(**overrides)}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def events_of(sessions: Sessions, case_id: str) -> list[dict[str, object]]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxRecord).where(OutboxRecord.key == case_id).order_by(OutboxRecord.id))
        return [json.loads(row.payload) for row in rows]


async def test_r1_a_signal_records_partner_kind_amount_dates_and_crisis_and_the_event_no_amount(
    case_api_client: Client, sessions: Sessions
) -> None:
    async with case_api_client() as client:
        household = made_up_household(**fresh_address(), children_born=())
        receipt = await signal(
            client, household, partner_kind="utility", arrears_amount="417.25", arrears_since="2026-01-10",
            signal_date="2026-02-20", crisis=True,
        )  # fmt: skip
        case = (await client.get(f"/v1/cases/{receipt['case_id']}")).json()
    [stored] = case["signals"]
    assert (stored["partner_kind"], stored["arrears_amount"], stored["arrears_since"], stored["signal_date"]) == (
        "utility", "417.25", "2026-01-10", "2026-02-20",
    )  # fmt: skip
    assert stored["crisis"] is True
    assert case["crisis"] is True
    assert case["priority"] == "high"  # a crisis signal without minors (R5 makes it urgent)
    received = [e for e in await events_of(sessions, str(receipt["case_id"])) if str(e["type"]).endswith("received")]
    assert received[0]["data"]["crisis"] is True  # type: ignore[index]
    assert "417.25" not in json.dumps(received), "the amount stays in case-api"
    assert not [key for key in received[0]["data"] if "amount" in key]  # type: ignore[attr-defined]


async def test_r1_arrears_cannot_start_after_the_signal(case_api_client: Client) -> None:
    async with case_api_client() as client:
        response = await client.post(
            "/v1/signals",
            json={"team": "team-noord", "household": made_up_household(**fresh_address()),
                  "signal": made_up_signal(arrears_since="2026-03-01", signal_date="2026-02-01")},
        )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "signal.signal_date"
    assert "arrears_since" in response.json()["detail"]


async def test_r2_a_signal_for_an_address_with_a_signal_in_the_last_six_months_marks_the_new_case_consecutive(
    case_api_client: Client, clock: FixedClock
) -> None:
    address = fresh_address()
    async with case_api_client() as client:
        first = await signal(client, made_up_household(**address, children_born=()), signal_date="2026-01-05")
        closed = await client.post(f"/v1/cases/{first['case_id']}/close", json={"outcome_code": "advice_quick_fix"})
        assert closed.status_code == 200, closed.text
        second = await signal(client, made_up_household(**address, children_born=()), signal_date="2026-02-27")
    assert second["case_opened"] is True
    assert second["case_id"] != first["case_id"]
    assert second["consecutive"] is True
    assert second["multiple"] is False


async def test_r2_a_signal_more_than_six_months_after_the_last_is_not_consecutive(
    case_api_client: Client, clock: FixedClock
) -> None:
    address = fresh_address()
    async with case_api_client() as client:
        first = await signal(
            client, made_up_household(**address, children_born=()), arrears_since="2025-05-01", signal_date="2025-07-01"
        )
        await client.post(f"/v1/cases/{first['case_id']}/close", json={"outcome_code": "advice_quick_fix"})
        second = await signal(client, made_up_household(**address, children_born=()), signal_date="2026-02-27")
    assert second["consecutive"] is False


async def test_r2_signals_in_different_months_do_not_make_a_case_multiple_and_two_in_one_month_do(
    case_api_client: Client,
) -> None:
    household = made_up_household(**fresh_address(), children_born=())
    async with case_api_client() as client:
        await signal(client, household, signal_date="2026-01-30")
        february = await signal(client, household, partner_kind="utility", signal_date="2026-02-02")
        assert february["case_opened"] is False
        assert february["multiple"] is False
        again = await signal(client, household, partner_kind="utility", signal_date="2026-02-20")
    assert again["multiple"] is True
    assert again["case_id"] == february["case_id"]


async def test_r2_a_household_with_an_open_case_cannot_get_a_second_one_by_hand(case_api_client: Client) -> None:
    household = made_up_household(**fresh_address())
    async with case_api_client() as client:
        first = await client.post("/v1/cases", json={"team": "team-noord", "household": household})
        assert first.status_code == 201, first.text
        second = await client.post("/v1/cases", json={"team": "team-noord", "household": household})
    assert second.status_code == 409
    assert second.json()["case_id"] == first.json()["id"]


async def test_r15_an_invalid_bsn_is_refused_naming_the_field_without_echoing_it(case_api_client: Client) -> None:
    async with case_api_client() as client:
        response = await client.post(
            "/v1/signals",
            json={"team": "team-noord", "household": made_up_household(**fresh_address(), bsn="123456789"),
                  "signal": made_up_signal()},
        )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "household.bsn"
    assert "123456789" not in response.text


async def test_r15_the_bsn_is_stored_encrypted_masked_for_most_roles_and_never_in_events_or_the_log(
    case_api_client: Client, sessions: Sessions, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    async with case_api_client() as client:
        receipt = await signal(client, made_up_household(**fresh_address(), bsn=MADE_UP_BSN))
        case_id = str(receipt["case_id"])
        as_team_lead = (await client.get(f"/v1/cases/{case_id}")).json()
    async with case_api_client(roles=("debt_counsellor",)) as client:
        as_debt_counsellor = (await client.get(f"/v1/cases/{case_id}")).json()
    assert as_team_lead["household"]["bsn"] == "******333"
    assert as_debt_counsellor["household"]["bsn"] == MADE_UP_BSN
    async with sessions() as session:
        household_id = as_team_lead["household"]["id"]
        token, index = (
            await session.execute(
                text("SELECT bsn_token, bsn_index FROM household WHERE id = :id"), {"id": household_id}
            )
        ).one()
        log = (await session.execute(text("SELECT * FROM processing_log WHERE case_id = :id"), {"id": case_id})).all()
    assert MADE_UP_BSN.encode() not in bytes(token)
    assert MADE_UP_BSN not in index
    assert log, "reads and writes are logged"
    assert MADE_UP_BSN not in repr(log)
    assert MADE_UP_BSN not in json.dumps(await events_of(sessions, case_id))
