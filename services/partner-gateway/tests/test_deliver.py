"""Delivering to a partner's real HTTP endpoint: signed with Standard Webhooks, retried on the schedule when
the endpoint fails or cannot be reached, given up after about three days."""

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from devinfra.ports import free_port
from devinfra.receiver import WebhookReceiver
from partner_gateway.deliveries.minimisation import minimise
from partner_gateway.deliveries.models import Delivery, DeliveryAttempt, DeliveryStatus
from partner_gateway.deliveries.service import deliver, due_deliveries, fan_out
from partner_gateway.inbound.case_api import CaseApi, TokenFile
from partner_gateway.partners.models import PartnerKind

pytestmark = pytest.mark.postgres

# Written out from the code's promise (about three days, Standard Webhooks' usual spacing), not imported.
RETRY_SPACING = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=24),
]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def one_delivery(partners: Any, sessions: Any, clock: Any, event: Any, callback_url: str) -> tuple[Any, str]:
    """A corporation subscribed at `callback_url`, and the pending delivery of `event` to it."""
    partner, _ = await partners.partner(
        PartnerKind.housing_corporation, event_types=["case.opened"], callback_url=callback_url
    )
    await partners.map_case(partner, event.subject)  # the corporation's own tenant
    async with sessions() as session, session.begin():
        [delivery] = await fan_out(session, event=event, clock=clock)
    return partner, delivery.id


async def attempt(sessions: Any, delivery_id: str, http: httpx.AsyncClient, clock: Any) -> tuple[bool, Delivery]:
    """One attempt in its own transaction, as the delivery worker makes it."""
    async with sessions() as session, session.begin():
        delivery = await session.get(Delivery, delivery_id)
        assert delivery is not None
        ok = await deliver(session, delivery=delivery, http=http, clock=clock)
    return ok, delivery


async def due_ids(sessions: Any, clock: Any) -> list[str]:
    async with sessions() as session, session.begin():
        return [d.id for d in await due_deliveries(session, now=clock.now(), limit=100)]


async def test_a_delivery_arrives_signed_with_the_partner_s_secret_and_its_id_as_webhook_id(
    partners: Any, sessions: Any, clock: Any, http: httpx.AsyncClient, receiver: WebhookReceiver, new_case_opened: Any
) -> None:
    event = new_case_opened()
    partner, delivery_id = await one_delivery(partners, sessions, clock, event, receiver.url + "/hooks/ep")

    ok, delivery = await attempt(sessions, delivery_id, http, clock)

    assert ok
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.delivered, 1, 200)
    assert delivery.delivered_at == clock.now()
    [received] = receiver.received
    assert received.path == "/hooks/ep"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["webhook-id"] == delivery_id
    assert received.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    payload = Webhook(partner.outbound_secret).verify(received.body, received.headers)
    assert payload == minimise(PartnerKind.housing_corporation, event)
    assert json.loads(received.body)["data"] == {"case_id": event.subject, "has_minors": True}
    # Signed with this partner's secret: another partner's secret does not verify it.
    other, _ = await partners.partner(PartnerKind.housing_corporation)
    with pytest.raises(WebhookVerificationError):
        Webhook(other.outbound_secret).verify(received.body, received.headers)
    assert await due_ids(sessions, clock) == []


async def test_a_503_keeps_the_delivery_pending_for_a_retry_five_seconds_later_which_then_arrives(
    partners: Any, sessions: Any, clock: Any, http: httpx.AsyncClient, receiver: WebhookReceiver, new_case_opened: Any
) -> None:
    partner, delivery_id = await one_delivery(partners, sessions, clock, new_case_opened(), receiver.url)
    first_try = clock.now()
    receiver.status = 503

    ok, delivery = await attempt(sessions, delivery_id, http, clock)

    assert not ok
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.pending, 1, 503)
    assert delivery.next_attempt_at == first_try + timedelta(seconds=5)
    clock.advance(timedelta(seconds=4))
    assert await due_ids(sessions, clock) == [], "not due before its retry time"
    clock.advance(timedelta(seconds=1))
    assert await due_ids(sessions, clock) == [delivery_id]

    receiver.status = 200
    ok, delivery = await attempt(sessions, delivery_id, http, clock)

    assert ok
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.delivered, 2, 200)
    assert delivery.delivered_at == first_try + timedelta(seconds=5)
    [received] = receiver.received
    assert received.headers["webhook-id"] == delivery_id, "a retry keeps its webhook-id, so a partner can dedupe"
    Webhook(partner.outbound_secret).verify(received.body, received.headers)


async def test_a_delivery_that_fails_every_retry_is_given_up_after_the_schedule(
    partners: Any, sessions: Any, clock: Any, http: httpx.AsyncClient, receiver: WebhookReceiver, new_case_opened: Any
) -> None:
    _, delivery_id = await one_delivery(partners, sessions, clock, new_case_opened(), receiver.url)
    receiver.status = 500
    attempted_at = []
    delivery = None
    for _ in range(len(RETRY_SPACING) + 5):
        assert await due_ids(sessions, clock) == [delivery_id]
        attempted_at.append(clock.now())
        _, delivery = await attempt(sessions, delivery_id, http, clock)
        if delivery.status != DeliveryStatus.pending:
            break
        clock.set(delivery.next_attempt_at)

    assert delivery is not None
    assert delivery.status == DeliveryStatus.gave_up
    assert delivery.attempts == len(RETRY_SPACING) + 1
    assert delivery.last_status_code == 500
    assert [later - earlier for earlier, later in pairwise(attempted_at)] == RETRY_SPACING
    assert timedelta(days=2, hours=12) < attempted_at[-1] - attempted_at[0] < timedelta(days=3, hours=12)
    clock.advance(timedelta(days=30))
    assert await due_ids(sessions, clock) == [], "a given-up delivery is not tried again"
    assert receiver.received == []


async def test_an_unreachable_endpoint_schedules_a_retry(
    partners: Any, sessions: Any, clock: Any, http: httpx.AsyncClient, new_case_opened: Any
) -> None:
    closed_port = free_port()  # nothing listens there
    _, delivery_id = await one_delivery(
        partners, sessions, clock, new_case_opened(), f"http://127.0.0.1:{closed_port}/hooks"
    )
    ok, delivery = await attempt(sessions, delivery_id, http, clock)

    assert not ok
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.pending, 1, None)
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("ConnectError")
    assert delivery.next_attempt_at == clock.now() + timedelta(seconds=5)


async def test_a_referral_waits_while_case_api_cannot_be_asked_and_is_never_sent_without_its_details(
    partners: Any,
    sessions: Any,
    clock: Any,
    http: httpx.AsyncClient,
    receiver: WebhookReceiver,
    new_case_event: Any,
    tmp_path: Path,
) -> None:
    """MEE Noord's referral reads its details from case-api when it is sent; case-api down is a retry, not a send."""
    await partners.partner(PartnerKind.client_support, event_types=["oco.accepted"], callback_url=receiver.url)
    async with sessions() as session, session.begin():
        [made] = await fan_out(session, event=new_case_event(event_name="oco.accepted"), clock=clock)
    token_file = tmp_path / "case-api.token"
    token_file.write_text("a-service-token\n")

    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}", timeout=2) as down,
        sessions() as session,
        session.begin(),
    ):
        delivery = await session.get(Delivery, made.id)
        assert delivery is not None
        case_api = CaseApi(down, TokenFile(token_file))
        assert not await deliver(session, delivery=delivery, http=http, clock=clock, case_api=case_api)
    async with sessions() as session:
        waiting = await session.get(Delivery, made.id)
        assert waiting is not None
        [logged] = (await session.scalars(select(DeliveryAttempt))).all()
    assert (waiting.status, waiting.attempts, waiting.last_status_code) == (DeliveryStatus.pending, 1, None)
    assert waiting.next_attempt_at == clock.now() + timedelta(seconds=5)
    assert waiting.last_error is not None
    assert waiting.last_error.startswith("case-api: ConnectError")
    assert (logged.status_code, logged.error) == (None, waiting.last_error)
    assert receiver.received == []

    # A worker without a client of case-api cannot send it either.
    clock.advance(timedelta(seconds=5))
    ok, waiting = await attempt(sessions, made.id, http, clock)
    assert not ok
    assert (waiting.status, waiting.attempts) == (DeliveryStatus.pending, 2)
    assert receiver.received == []
