"""Isolation (issue 5, point 5), for every partner kind: a partner never receives another partner's cases,
never reads another partner's messages or deliveries, and receives only its kind's allowed fields. A
corporation, bailiff or utility receives a case's events only once reference_map ties the case to it (its first
message about the case links it): nothing before, and at that moment one case.snapshot of what its kind may see
of the case now (ADR 0011), then every later event, in order. MEE Noord (client_support) receives no case event
at all (referrals need recorded consent)."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from devinfra.devkey import DevKey
from devinfra.receiver import WebhookReceiver
from eviction_schemas.envelope import CloudEvent, make_event
from eviction_schemas.registry import load_sample, validate_cloud_event
from partner_gateway.config import Settings
from partner_gateway.deliveries.minimisation import ALLOWED_FIELDS, SNAPSHOT_TYPE, may_receive
from partner_gateway.deliveries.models import DeliveryStatus
from partner_gateway.deliveries.service import deliver, due_deliveries, fan_out, get_delivery
from partner_gateway.inbound.repository import InboundRepository
from partner_gateway.main import create_app
from partner_gateway.partners.models import PartnerKind
from service_kit.errors import NotFound
from service_kit.settings import DEVELOPMENT_OIN

pytestmark = pytest.mark.postgres

SCOPED = [PartnerKind.housing_corporation, PartnerKind.bailiff, PartnerKind.utility]
SETTINGS = Settings(_env_file=None)
CASE_EVENT_NAMES = ["case.opened", "case.closed", "signal.received", "eviction.scheduled", "support.started"]
# An event each scoped kind may receive (deliveries/minimisation.py): a utility learns only whether it was picked up.
EVENT_OF_KIND = {
    PartnerKind.housing_corporation: "case.opened",
    PartnerKind.bailiff: "case.opened",
    PartnerKind.utility: "case.closed",
}


@pytest.fixture
def receivers() -> Iterator[tuple[WebhookReceiver, WebhookReceiver]]:
    with WebhookReceiver() as first, WebhookReceiver() as second:
        yield first, second


async def run_deliveries(sessions: Any, clock: Any) -> None:
    """What the delivery worker does: rounds of every due delivery, one transaction each, until none is due (a
    case's next delivery is due once its earlier one was delivered)."""
    for _ in range(20):
        async with sessions() as session, session.begin(), httpx.AsyncClient(timeout=5) as http:
            due = await due_deliveries(session, now=clock.now(), limit=100)
            for delivery in due:
                await deliver(session, delivery=delivery, http=http, clock=clock, settings=SETTINGS)
        if not due:
            return
    raise AssertionError("deliveries still due after 20 rounds")


def case_ids(receiver: WebhookReceiver) -> list[str]:
    return [json.loads(r.body)["subject"] for r in receiver.received]


def bodies(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


def event_of(name: str, case_id: str, sequence: int, **data: Any) -> CloudEvent:
    """A case event as case-api publishes it: its golden sample's data, changed, still valid."""
    values = load_sample(name)["data"] | data
    if "case_id" in values:
        values["case_id"] = case_id
    event = make_event(
        event=name,
        source_service="case-api",
        oin=DEVELOPMENT_OIN,
        subject=case_id,
        sequence=sequence,
        time=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        data=values,
    )
    validate_cloud_event(event)
    return event


async def waiting_for_a_lock(sessions: Any) -> bool:
    async with sessions() as session:
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(await session.scalar(query))


async def consume(sessions: Any, clock: Any, *events: CloudEvent) -> None:
    """What the consumer does with each event: one transaction each."""
    for event in events:
        async with sessions() as session, session.begin():
            await fan_out(session, event=event, clock=clock)


@pytest.mark.parametrize("kind", SCOPED, ids=str)
async def test_a_partner_receives_only_the_cases_linked_to_it_and_only_its_allowed_fields(
    kind: PartnerKind,
    partners: Any,
    sessions: Any,
    clock: Any,
    receivers: tuple[WebhookReceiver, WebhookReceiver],
    new_case_event: Any,
) -> None:
    first_receiver, second_receiver = receivers
    name = EVENT_OF_KIND[kind]
    first, _ = await partners.partner(kind, event_types=[name], callback_url=first_receiver.url)
    second, _ = await partners.partner(kind, event_types=[name], callback_url=second_receiver.url)
    mine, theirs, nobodys = (new_case_event(event_name=name) for _ in range(3))
    await partners.map_case(first, mine.subject)
    await partners.map_case(second, theirs.subject)
    await consume(sessions, clock, mine, theirs, nobodys)

    await run_deliveries(sessions, clock)

    assert case_ids(first_receiver) == [mine.subject]
    assert case_ids(second_receiver) == [theirs.subject]
    for received in first_receiver.received + second_receiver.received:
        assert set(json.loads(received.body)["data"]) == ALLOWED_FIELDS[kind][name]
    # Nothing of a case that is not theirs was even queued for them: no routing window, no rows to drop later.
    assert sorted((d.partner_id, d.case_id) for d in await partners.deliveries()) == sorted(
        [(first.id, mine.subject), (second.id, theirs.subject)]
    )


async def test_a_bailiff_linked_weeks_after_the_case_opened_gets_children_present_then_every_later_event(
    partners: Any, sessions: Any, clock: Any, receivers: Any
) -> None:
    """The bailiff's first message (a summons with data.landlord) comes long after case.opened: the case's
    facts reach it as a snapshot, then its later events follow, in order."""
    bailiff_receiver, corporation_receiver = receivers
    bailiff, _ = await partners.partner(
        PartnerKind.bailiff, event_types=["case.opened"], callback_url=bailiff_receiver.url
    )
    corporation, _ = await partners.partner(
        PartnerKind.housing_corporation,
        event_types=["case.opened", "support.started"],
        callback_url=corporation_receiver.url,
    )
    case_id = "5c0b6a7e-2f1d-4e3c-9b8a-7d6e5f4a3b2c"
    await partners.map_case(corporation, case_id, reference="HUUR-1")
    await consume(
        sessions,
        clock,
        event_of("case.opened", case_id, 1, has_minors=False),
        event_of("support.started", case_id, 2, kind="debt_counselling"),
        event_of("signal.received", case_id, 3),
    )
    await run_deliveries(sessions, clock)
    assert [b["type"] for b in bodies(corporation_receiver)] == [
        "nl.eviction-prevention.case.opened",
        "nl.eviction-prevention.support.started",
    ]
    assert not [d for d in await partners.deliveries() if d.partner_id == bailiff.id], "not the bailiff's case yet"

    await partners.map_case(bailiff, case_id, reference="DW-2026-7")  # its first message links it
    await partners.map_case(bailiff, case_id, reference="DW-2026-7b")  # a second file number: no second snapshot
    await consume(sessions, clock, event_of("case.opened", case_id, 4, has_minors=True))
    await run_deliveries(sessions, clock)

    assert [(b["type"], b["subject"], b["data"]) for b in bodies(bailiff_receiver)] == [
        (SNAPSHOT_TYPE, case_id, {"case_id": case_id, "children_present": False}),
        ("nl.eviction-prevention.case.opened", case_id, {"case_id": case_id, "children_present": True}),
    ]
    assert len(bodies(corporation_receiver)) == 3, "the corporation got the later event once, and no snapshot"


@pytest.mark.parametrize("kind", SCOPED, ids=str)
async def test_a_snapshot_holds_only_the_kind_s_facts_of_the_event_types_subscribed_to(
    kind: PartnerKind, partners: Any, sessions: Any, clock: Any, receivers: Any
) -> None:
    receiver, _ = receivers
    subscribed = sorted(ALLOWED_FIELDS[kind])
    partner, _ = await partners.partner(kind, event_types=subscribed, callback_url=receiver.url)
    narrow, _ = await partners.partner(kind, event_types=[EVENT_OF_KIND[kind]], callback_url=receiver.url)
    case_id = "6d1c7b8f-3a2e-4f4d-8c9b-8e7f6a5b4c3d"
    support_id = "0e9d8c7b-6a5f-4e3d-9c1b-2a3b4c5d6e7f"
    await consume(
        sessions,
        clock,
        event_of("case.opened", case_id, 1, has_minors=True),
        event_of("support.started", case_id, 2, support_id=support_id, kind="payment_arrangement"),
        event_of("case.closed", case_id, 3, outcome="not_picked_up_other_reason"),
    )
    await partners.map_case(partner, case_id)
    await partners.map_case(narrow, case_id)
    await run_deliveries(sessions, clock)

    by_partner = {
        d.partner_id: json.loads(d.payload) for d in await partners.deliveries() if d.event_type == SNAPSHOT_TYPE
    }
    expected = {
        PartnerKind.housing_corporation: {
            "case_id": case_id,
            "has_minors": True,
            "in_support": True,
            "active_arrangements": ["payment_arrangement"],
            "picked_up": False,
            "postponement_request": None,
            "second_chance_request": None,
        },
        PartnerKind.bailiff: {
            "case_id": case_id,
            "children_present": True,
            "postponement_request": None,
            "contact_person": None,
        },
        PartnerKind.utility: {"case_id": case_id, "picked_up": False},
    }[kind]
    assert by_partner[partner.id]["data"] == expected
    narrow_fields = {"case.opened": {"case_id", "has_minors"}, "case.closed": {"case_id", "picked_up"}}
    if kind is PartnerKind.bailiff:
        narrow_fields["case.opened"] = {"case_id", "children_present"}
    assert set(by_partner[narrow.id]["data"]) == narrow_fields[EVENT_OF_KIND[kind]]
    text = json.dumps(by_partner)
    assert "not_picked_up_other_reason" not in text
    assert support_id not in text
    if kind is not PartnerKind.housing_corporation:
        assert "payment_arrangement" not in text
    assert len(receiver.received) == 2


async def test_no_snapshot_before_any_event_of_the_case_and_none_of_facts_not_known_yet(
    partners: Any, sessions: Any, clock: Any, receivers: Any
) -> None:
    receiver, _ = receivers
    corporation, _ = await partners.partner(
        PartnerKind.housing_corporation, event_types=["case.opened"], callback_url=receiver.url
    )
    utility, _ = await partners.partner(PartnerKind.utility, event_types=["case.closed"], callback_url=receiver.url)
    case_id = "7e2d8c9a-4b3f-4a5e-9d0c-9f8a7b6c5d4e"
    # Linked before the case's first event reached the gateway: no snapshot, the events come as they are.
    await partners.map_case(corporation, case_id)
    await consume(sessions, clock, event_of("case.opened", case_id, 1, has_minors=False))
    # Linked while the case is open: a utility's one fact (picked up?) is not known yet, so nothing is sent.
    await partners.map_case(utility, case_id)
    await run_deliveries(sessions, clock)
    assert [(b["type"], b["data"]) for b in bodies(receiver)] == [
        ("nl.eviction-prevention.case.opened", {"case_id": case_id, "has_minors": False})
    ]
    await consume(sessions, clock, event_of("case.closed", case_id, 2, outcome="follow_up_financial_help"))
    await run_deliveries(sessions, clock)
    assert [b["data"] for b in bodies(receiver)][1:] == [{"picked_up": True}]


@pytest.mark.parametrize("first", ["consumer", "linking"])
async def test_an_event_and_a_link_at_the_same_moment_never_lose_the_fact(
    first: str, partners: Any, sessions: Any, clock: Any
) -> None:
    """The consumer applying case.opened and the inbound worker linking the corporation run in two transactions
    at once: whichever commits first, the corporation learns whether the household has minors (the case's facts
    row is locked by both, so the second sees the first's work)."""
    corporation, _ = await partners.partner(PartnerKind.housing_corporation, event_types=["case.opened"])
    case_id = "8f3e9d0b-5c4a-4b6f-8e1d-0a9b8c7d6e5f"
    await consume(sessions, clock, event_of("signal.received", case_id, 1))  # the facts row exists

    holding, hold = asyncio.Event(), asyncio.Event()

    async def apply_event() -> None:
        async with sessions() as session, session.begin():
            await fan_out(session, event=event_of("case.opened", case_id, 2, has_minors=True), clock=clock)
            holding.set()
            await hold.wait()

    async def link() -> None:
        async with sessions() as session, session.begin():
            await InboundRepository(session).map_reference(
                partner_id=corporation.id, reference="HUUR-9", case_id=case_id, now=clock.now()
            )
            holding.set()
            await hold.wait()

    one, two = (apply_event, link) if first == "consumer" else (link, apply_event)
    first_task = asyncio.create_task(one())
    await asyncio.wait_for(holding.wait(), 10)  # the first holds the row lock, uncommitted
    second_task = asyncio.create_task(two())
    deadline = time.monotonic() + 10
    while not await waiting_for_a_lock(sessions):
        assert time.monotonic() < deadline, "timed out waiting for the second transaction to wait for the lock"
        await asyncio.sleep(0.02)
    assert not second_task.done()
    hold.set()
    await asyncio.wait_for(asyncio.gather(first_task, second_task), 10)

    [delivery] = [d for d in await partners.deliveries() if d.partner_id == corporation.id]
    assert json.loads(delivery.payload)["data"] == {"case_id": case_id, "has_minors": True}
    assert delivery.event_type == (SNAPSHOT_TYPE if first == "consumer" else "nl.eviction-prevention.case.opened")


async def test_what_is_pending_of_a_case_the_partner_s_reference_moved_away_from_is_not_sent(
    partners: Any, sessions: Any, clock: Any, receivers: Any, new_case_opened: Any
) -> None:
    receiver, _ = receivers
    corporation, _ = await partners.partner(
        PartnerKind.housing_corporation, event_types=["case.opened"], callback_url=receiver.url
    )
    old, new = new_case_opened(), new_case_opened()
    await partners.map_case(corporation, old.subject, reference="HUUR-5")
    await consume(sessions, clock, old)
    await partners.map_case(corporation, new.subject, reference="HUUR-5")  # the reference now names another case
    await run_deliveries(sessions, clock)
    assert receiver.received == []
    [delivery] = await partners.deliveries()
    assert (delivery.case_id, delivery.status, delivery.gave_up_reason, delivery.attempts) == (
        old.subject,
        DeliveryStatus.gave_up,
        "not_linked",
        0,
    )


async def test_client_support_receives_no_case_event_even_when_subscribed_by_hand(
    partners: Any, sessions: Any, clock: Any, new_case_opened: Any
) -> None:
    for name in CASE_EVENT_NAMES:
        assert not may_receive(PartnerKind.client_support, f"nl.eviction-prevention.{name}")
    mee, _ = await partners.partner(PartnerKind.client_support)
    await partners.raw_subscription(mee, CASE_EVENT_NAMES)
    event = new_case_opened()
    await partners.map_case(mee, event.subject)
    async with sessions() as session, session.begin():
        assert await fan_out(session, event=event, clock=clock) == []


@pytest.mark.parametrize("kind", list(PartnerKind), ids=str)
async def test_a_partner_cannot_see_another_partner_s_delivery(
    kind: PartnerKind, partners: Any, sessions: Any, clock: Any, new_case_opened: Any
) -> None:
    owner, _ = await partners.partner(PartnerKind.housing_corporation, event_types=["case.opened"])
    other, _ = await partners.partner(kind)
    event = new_case_opened()
    await partners.map_case(owner, event.subject)
    async with sessions() as session, session.begin():
        [delivery] = await fan_out(session, event=event, clock=clock)
    async with sessions() as session:
        assert (await get_delivery(session, partner_id=owner.id, delivery_id=delivery.id)).id == delivery.id
        with pytest.raises(NotFound):
            await get_delivery(session, partner_id=other.id, delivery_id=delivery.id)


# --- messages in: a partner reads its own messages only ---------------------------------------------------


@pytest.fixture
async def client(
    database_url: str, clock: Any, dev_key: DevKey, admin: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(
        Settings(_env_file=None, database_url=database_url, oidc_jwks_url=str(dev_key.jwks_path)), clock=clock
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test", headers=admin) as client:
            yield client


def message_of(kind: PartnerKind, today: date, kit: Any) -> dict[str, Any]:
    if kind in (PartnerKind.housing_corporation, PartnerKind.utility):
        return dict(kit.arrears_reported(today=today))
    if kind is PartnerKind.bailiff:
        return dict(kit.eviction_scheduled("DW-2026-001", today=today))
    return {
        "type": "contact.made",
        "reference": "MEE-2026-001",
        "occurred_at": f"{today.isoformat()}T09:00:00Z",
        "data": {"contacted_on": today.isoformat(), "channel": "phone"},
    }


@pytest.mark.parametrize("kind", list(PartnerKind), ids=str)
async def test_a_partner_cannot_read_another_partner_s_message(
    kind: PartnerKind, client: httpx.AsyncClient, clock: Any, partner_messages: Any
) -> None:
    secrets = {}
    for partner_id in ("owner", "other"):
        secrets[partner_id] = partner_messages.new_secret()
        registered = await client.post(
            "/v1/partners",
            json={
                "id": partner_id,
                "name": partner_id,
                "kind": kind.value,
                "outbound_secret": partner_messages.new_secret(),
                "inbound_secret": secrets[partner_id],
            },
        )
        assert registered.status_code == 201, registered.text
    sent = await partner_messages.send(
        client, "owner", secrets["owner"], message_of(kind, clock.now().date(), partner_messages), at=clock.now()
    )
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["message_id"]

    own = await partner_messages.read(client, "owner", secrets["owner"], message_id, at=clock.now())
    assert own.status_code == 200, own.text
    foreign = await partner_messages.read(client, "other", secrets["other"], message_id, at=clock.now())
    assert foreign.status_code == 404, foreign.text
    # Nor with the other's secret under the owner's id: that is a bad signature.
    forged = await partner_messages.read(client, "owner", secrets["other"], message_id, at=clock.now())
    assert forged.status_code == 401
