"""Isolation (issue 5, point 5), for every partner kind: a partner never receives another partner's cases,
never reads another partner's messages or deliveries, and receives only its kind's allowed fields. A
corporation, bailiff or utility receives a case only once reference_map ties the case to it; MEE Noord
(client_support) receives no case event at all (referrals need recorded consent)."""

import json
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devinfra.devkey import DevKey
from devinfra.receiver import WebhookReceiver
from partner_gateway.config import Settings
from partner_gateway.deliveries.minimisation import ALLOWED_FIELDS, may_receive
from partner_gateway.deliveries.service import deliver, due_deliveries, fan_out, get_delivery
from partner_gateway.main import create_app
from partner_gateway.partners.models import PartnerKind
from service_kit.errors import NotFound

pytestmark = pytest.mark.postgres

SCOPED = [PartnerKind.housing_corporation, PartnerKind.bailiff, PartnerKind.utility]
WINDOW = 600.0
SETTINGS = Settings(_env_file=None, delivery_routing_window_seconds=WINDOW)
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
    """What the delivery worker does, once: every due delivery, one transaction."""
    async with sessions() as session, session.begin(), httpx.AsyncClient(timeout=5) as http:
        for delivery in await due_deliveries(session, now=clock.now(), limit=100):
            await deliver(session, delivery=delivery, http=http, clock=clock, settings=SETTINGS)


def case_ids(receiver: WebhookReceiver) -> list[str]:
    return [json.loads(r.body)["subject"] for r in receiver.received]


@pytest.mark.parametrize("kind", SCOPED, ids=str)
async def test_a_partner_receives_only_the_cases_mapped_to_it_and_only_its_allowed_fields(
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
    async with sessions() as session, session.begin():
        for event in (mine, theirs, nobodys):
            await fan_out(session, event=event, clock=clock)

    await run_deliveries(sessions, clock)

    assert case_ids(first_receiver) == [mine.subject]
    assert case_ids(second_receiver) == [theirs.subject]
    for received in first_receiver.received + second_receiver.received:
        assert set(json.loads(received.body)["data"]) == ALLOWED_FIELDS[kind][name]

    # After the routing window, what never mapped to a partner is dropped unsent: nothing of another
    # partner's case stays queued for it.
    clock.advance(timedelta(seconds=WINDOW))
    await run_deliveries(sessions, clock)
    assert [(d.partner_id, d.case_id) for d in await partners.deliveries()] == sorted(
        [(first.id, mine.subject), (second.id, theirs.subject)]
    )
    assert case_ids(first_receiver) == [mine.subject]
    assert case_ids(second_receiver) == [theirs.subject]


@pytest.mark.parametrize("kind", SCOPED, ids=str)
async def test_a_case_mapped_after_its_event_is_still_delivered_within_the_routing_window(
    kind: PartnerKind, partners: Any, sessions: Any, clock: Any, receivers: Any, new_case_event: Any
) -> None:
    """The inbound worker writes the mapping after case-api answers; the case's event may arrive first."""
    receiver, _ = receivers
    partner, _ = await partners.partner(kind, event_types=[EVENT_OF_KIND[kind]], callback_url=receiver.url)
    event = new_case_event(event_name=EVENT_OF_KIND[kind])
    async with sessions() as session, session.begin():
        await fan_out(session, event=event, clock=clock)
    await run_deliveries(sessions, clock)
    assert receiver.received == []

    await partners.map_case(partner, event.subject)
    clock.advance(timedelta(seconds=5))
    await run_deliveries(sessions, clock)
    assert case_ids(receiver) == [event.subject]


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
    async with sessions() as session, session.begin():
        [delivery] = await fan_out(session, event=new_case_opened(), clock=clock)
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
