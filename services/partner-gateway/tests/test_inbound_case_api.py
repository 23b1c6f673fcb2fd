"""Partners' messages reach a REAL case-api: a uvicorn process on a free port and its own migrated PostgreSQL
database, trusting a signing key of this test, with the gateway's service token in a file (as the stack writes it).

A corporation's arrears open a case; a bailiff's eviction date for that tenancy reaches the case; messages sent
while case-api is stopped wait, and are processed once it is back.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from partner_gateway.inbound.models import InboundMessage, InboundStatus, ReferenceMap
from service_kit.clock import FixedClock

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


@pytest.fixture
async def partners(gateway_with_case_api: Any, case_api_process: Any) -> AsyncIterator[Any]:
    async with gateway_with_case_api(
        case_api_url=case_api_process.url,
        case_api_http=lambda: httpx.AsyncClient(base_url=case_api_process.url, timeout=10),
        token=case_api_process.token,
    ) as systems:
        await systems.register("woonfriesland", "housing_corporation")
        await systems.register("deurwaarder-noord", "bailiff")
        yield systems


async def messages(partners: Any) -> list[InboundMessage]:
    async with partners.app.state.session_factory() as session:
        query = select(InboundMessage).order_by(InboundMessage.created_at, InboundMessage.id)
        return list((await session.scalars(query)).all())


async def test_a_corporations_arrears_open_a_case_and_a_bailiffs_eviction_date_reaches_it(
    partners: Any, case_api_process: Any, clock: FixedClock, partner_messages: Any
) -> None:
    today = clock.now().date()
    arrears = await partners.send("woonfriesland", partner_messages.arrears_reported("HUUR-0001", today=today))
    assert await partners.process() == 1

    outcome = await partners.outcome("woonfriesland", arrears)
    assert outcome["status"] == "processed", outcome
    case_id = outcome["outcome"]["case_id"]
    assert outcome["outcome"]["case_opened"] is True
    case = case_api_process.get(f"/v1/cases/{case_id}")
    assert case.status_code == 200, case.text
    assert case.json()["team"] == "team-noord"
    [signal] = case.json()["signals"]
    assert (signal["partner_id"], signal["partner_reference"]) == ("woonfriesland", "HUUR-0001")

    # The bailiff's file number is linked to the case through the corporation's tenancy reference.
    landlord = {"partner_id": "woonfriesland", "tenancy_reference": "HUUR-0001"}
    scheduled = await partners.send(
        "deurwaarder-noord", partner_messages.eviction_scheduled("DW-2026-17", today=today, landlord=landlord)
    )
    assert await partners.process() == 1
    outcome = await partners.outcome("deurwaarder-noord", scheduled)
    assert (outcome["status"], outcome["outcome"]["case_id"]) == ("processed", case_id), outcome
    eviction = case_api_process.get(f"/v1/cases/{case_id}/eviction")
    assert eviction.json()["eviction_date"] == (today + timedelta(days=21)).isoformat()
    assert eviction.json()["history"][0]["bailiff_reference"] == "DW-2026-17"

    # Later messages of the file need no link: the file number is mapped now.
    postponed = partner_messages.eviction_scheduled("DW-2026-17", today=today, days_ahead=35)
    postponed["type"] = "eviction.postponed"
    postponement = await partners.send("deurwaarder-noord", postponed)
    assert await partners.process() == 1
    assert (await partners.outcome("deurwaarder-noord", postponement))["status"] == "processed"
    assert (
        case_api_process.get(f"/v1/cases/{case_id}/eviction").json()["eviction_date"]
        == (today + timedelta(days=35)).isoformat()
    )


async def test_a_bailiffs_message_for_an_unknown_file_fails_with_a_clear_outcome(
    partners: Any, clock: FixedClock, partner_messages: Any
) -> None:
    today = clock.now().date()
    unknown = await partners.send("deurwaarder-noord", partner_messages.eviction_scheduled("DW-404", today=today))
    assert await partners.process() == 1
    outcome = await partners.outcome("deurwaarder-noord", unknown)
    assert outcome["status"] == "failed"
    assert outcome["outcome"]["case_id"] is None
    assert outcome["outcome"]["error"] == "unknown_reference"
    assert "DW-404" in outcome["outcome"]["detail"]


async def test_case_api_refusing_the_content_rejects_the_message_with_its_problem(
    partners: Any, clock: FixedClock, partner_messages: Any
) -> None:
    today = clock.now().date()
    # arrears that arose after the signal: the schema cannot say so, case-api does.
    message = partner_messages.arrears_reported(today=today, arrears_since=(today + timedelta(days=1)).isoformat())
    message_id = await partners.send("woonfriesland", message)
    assert await partners.process() == 1
    outcome = await partners.outcome("woonfriesland", message_id)
    assert outcome["status"] == "rejected"
    assert outcome["outcome"]["case_api_status"] == 400  # a validator of case-api's schema
    assert "signal_date" in outcome["outcome"]["problem"]["detail"]
    assert outcome["outcome"]["problem"]["field"] == "data.signal_date"  # the partner's own field


async def test_messages_sent_while_case_api_is_down_wait_and_are_processed_when_it_is_back(
    partners: Any, case_api_process: Any, clock: FixedClock, partner_messages: Any
) -> None:
    today = clock.now().date()
    await asyncio.to_thread(case_api_process.stop)

    # Partners still get their 202s: the messages are stored.
    landlord = {"partner_id": "woonfriesland", "tenancy_reference": "HUUR-0002"}
    sent = [
        (
            "woonfriesland",
            await partners.send("woonfriesland", partner_messages.arrears_reported("HUUR-0002", today=today)),
        ),
        (
            "woonfriesland",
            await partners.send(
                "woonfriesland", partner_messages.arrears_reported("HUUR-0003", today=today, house_number="3")
            ),
        ),
        (
            "deurwaarder-noord",
            await partners.send(
                "deurwaarder-noord", partner_messages.eviction_scheduled("DW-2026-18", today=today, landlord=landlord)
            ),
        ),
    ]

    for _ in range(2):  # two rounds while case-api is down: each message waits longer
        await partners.process()
        clock.advance(timedelta(seconds=3))
    waiting = await messages(partners)
    assert [message.status for message in waiting] == [InboundStatus.received] * 3
    assert all(message.next_attempt_at > clock.now() for message in waiting)
    assert {message.attempts for message in waiting} == {2}
    assert all(message.last_error for message in waiting)
    for partner_id, message_id in sent:
        outcome = await partners.outcome(partner_id, message_id)
        assert (outcome["status"], outcome["outcome"]) == ("received", None)
        assert outcome["next_attempt_at"] is not None

    await asyncio.to_thread(case_api_process.start)
    clock.advance(timedelta(seconds=10))  # past every message's next attempt
    assert await partners.process() == 3

    outcomes = [await partners.outcome(partner_id, message_id) for partner_id, message_id in sent]
    assert [outcome["status"] for outcome in outcomes] == ["processed"] * 3, outcomes
    first_case = outcomes[0]["outcome"]["case_id"]
    assert outcomes[2]["outcome"]["case_id"] == first_case, "the bailiff's date reached the landlord's case"
    assert (
        case_api_process.get(f"/v1/cases/{first_case}/eviction").json()["eviction_date"]
        == (today + timedelta(days=21)).isoformat()
    )
    async with partners.app.state.session_factory() as session:
        mapped = {(row.partner_id, row.reference): row.case_id for row in await session.scalars(select(ReferenceMap))}
    assert mapped[("deurwaarder-noord", "DW-2026-18")] == first_case
    assert mapped[("woonfriesland", "HUUR-0003")] != first_case


async def test_a_message_that_cannot_be_forwarded_ends_failed_and_holds_back_no_other(
    partners: Any, clock: FixedClock, partner_messages: Any
) -> None:
    today = clock.now().date()
    poison = await partners.send("woonfriesland", partner_messages.arrears_reported("HUUR-0001", today=today))
    after = await partners.send("woonfriesland", partner_messages.arrears_reported("HUUR-0002", today=today))
    # As stored before intake refused lone surrogates: the case-api client cannot encode it (UnicodeEncodeError).
    async with partners.app.state.session_factory() as session, session.begin():
        row = await session.get(InboundMessage, poison)
        assert row is not None
        row.payload = {**row.payload, "surname": "Test\ud800huis"}

    assert await partners.process() == 2
    failed = await partners.outcome("woonfriesland", poison)
    assert failed["status"] == "failed", failed
    assert failed["outcome"]["error"] == "cannot_process"
    assert "UnicodeEncodeError" in failed["outcome"]["detail"]
    assert (await partners.outcome("woonfriesland", after))["status"] == "processed"
    assert await partners.process() == 0


async def test_a_corporations_household_composition_makes_the_case_one_with_minors(
    partners: Any, case_api_process: Any, clock: FixedClock, partner_messages: Any
) -> None:
    """Birth years (or a minors count) of a corporation reach case-api and set has_minors there (ADR 0013)."""
    today = clock.now().date()
    arrears = partner_messages.arrears_reported(
        "HUUR-KIDS", today=today, house_number="77", birth_years=[1988, today.year - 5, today.year - 2]
    )
    message_id = await partners.send("woonfriesland", arrears)
    assert await partners.process() == 1
    outcome = await partners.outcome("woonfriesland", message_id)
    assert outcome["status"] == "processed", outcome
    case = case_api_process.get(f"/v1/cases/{outcome['outcome']['case_id']}").json()
    assert (case["has_minors"], case["priority"]) == (True, "highest")
    # What the partner reads back of its message says nothing of the composition.
    assert "birth_years" not in str(outcome["outcome"])
