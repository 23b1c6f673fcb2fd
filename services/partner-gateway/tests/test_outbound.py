"""Outbound rules beyond the happy path: which answers are retried, Retry-After, 410, the per-attempt log,
partner.delivery-failed through the gateway's outbox, two signatures during a secret rotation, and replay."""

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from devinfra.receiver import WebhookReceiver
from eviction_schemas.registry import validate_event
from partner_gateway.config import Settings
from partner_gateway.db import OutboxRecord
from partner_gateway.deliveries.models import Delivery, DeliveryAttempt, DeliveryStatus
from partner_gateway.deliveries.service import deliver, fan_out, parse_retry_after, replay
from partner_gateway.partners import service as registry
from partner_gateway.partners.models import PartnerKind, Subscription
from partner_gateway.partners.schemas import SecretRotation

pytestmark = pytest.mark.postgres

SETTINGS = Settings(_env_file=None, partner_events_topic="test.partner-events")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def setup(partners: Any, sessions: Any, clock: Any, url: str, *events: Any) -> tuple[Any, Any, list[str]]:
    partner, subscription = await partners.partner(
        PartnerKind.housing_corporation, event_types=["case.opened"], callback_url=url
    )
    ids = []
    for event in events:
        await partners.map_case(partner, event.subject)
        async with sessions() as session, session.begin():
            ids += [d.id for d in await fan_out(session, event=event, clock=clock)]
    return partner, subscription, ids


async def attempt(sessions: Any, delivery_id: str, http: httpx.AsyncClient, clock: Any) -> Delivery:
    async with sessions() as session, session.begin():
        delivery: Delivery | None = await session.get(Delivery, delivery_id)
        assert delivery is not None
        await deliver(session, delivery=delivery, http=http, clock=clock, settings=SETTINGS)
    return delivery


async def rows(sessions: Any, model: type[Any]) -> list[Any]:
    async with sessions() as session:
        return list((await session.scalars(select(model))).all())


def failed_events(outbox: list[OutboxRecord]) -> list[dict[str, Any]]:
    events = [json.loads(row.payload) for row in outbox]
    for event in events:
        validate_event(event)  # the gateway's own event keeps the contract
    return events


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_a_4xx_other_than_410_and_429_gives_up_at_once_and_reports_it(
    status: int, partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    partner, subscription, [delivery_id] = await setup(partners, sessions, clock, receiver.url, new_case_opened())
    receiver.status = status

    delivery = await attempt(sessions, delivery_id, http, clock)

    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.gave_up, 1, status)
    assert delivery.gave_up_reason == "refused"
    [outbox] = await rows(sessions, OutboxRecord)
    assert outbox.topic == "test.partner-events"
    assert outbox.key == delivery.case_id
    [event] = failed_events([outbox])
    assert event["type"] == "nl.eviction-prevention.partner.delivery-failed"
    assert event["subject"] == delivery.case_id
    assert event["data"] == {
        "partner_id": partner.id,
        "partner_kind": "housing_corporation",
        "delivery_id": delivery_id,
        "message_type": "case.opened",
        "idempotency_key": delivery_id,
        "attempts": 1,
        "reason_code": "refused",
        "last_http_status": status,
    }
    [subscription_now] = [s for s in await rows(sessions, Subscription) if s.id == subscription.id]
    assert subscription_now.active, "a refusal stops one delivery, not the endpoint"


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_429_and_5xx_are_retried_on_the_schedule(
    status: int, partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    _, _, [delivery_id] = await setup(partners, sessions, clock, receiver.url, new_case_opened())
    receiver.status = status
    delivery = await attempt(sessions, delivery_id, http, clock)
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.pending, status)
    assert delivery.next_attempt_at == clock.now() + timedelta(seconds=5)
    assert await rows(sessions, OutboxRecord) == []


async def test_retry_after_in_seconds_or_as_a_date_is_honoured_when_later_than_the_schedule(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    _, _, [first, second, third] = await setup(
        partners, sessions, clock, receiver.url, new_case_opened(), new_case_opened(), new_case_opened()
    )
    receiver.status = 429
    receiver.headers = {"Retry-After": "120"}
    assert (await attempt(sessions, first, http, clock)).next_attempt_at == clock.now() + timedelta(seconds=120)

    receiver.status = 503
    receiver.headers = {"Retry-After": format_datetime(clock.now() + timedelta(minutes=10), usegmt=True)}
    assert (await attempt(sessions, second, http, clock)).next_attempt_at == clock.now() + timedelta(minutes=10)

    receiver.headers = {"Retry-After": "1"}  # sooner than the schedule: the schedule wins
    assert (await attempt(sessions, third, http, clock)).next_attempt_at == clock.now() + timedelta(seconds=5)


def test_retry_after_that_cannot_be_read_is_ignored_and_a_long_one_is_capped(clock: Any) -> None:
    assert parse_retry_after(None, now=clock.now()) is None
    assert parse_retry_after("soon", now=clock.now()) is None
    assert parse_retry_after("999999999", now=clock.now()) == timedelta(hours=24)


async def test_410_disables_the_subscription_and_gives_up_its_pending_deliveries(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    _, subscription, [gone, waiting] = await setup(
        partners, sessions, clock, receiver.url, new_case_opened(), new_case_opened()
    )
    receiver.status = 410

    delivery = await attempt(sessions, gone, http, clock)

    assert (delivery.status, delivery.gave_up_reason, delivery.last_status_code) == (
        DeliveryStatus.gave_up,
        "endpoint_gone",
        410,
    )
    by_id = {d.id: d for d in await rows(sessions, Delivery)}
    assert (by_id[waiting].status, by_id[waiting].gave_up_reason) == (DeliveryStatus.gave_up, "endpoint_disabled")
    [subscription_now] = [s for s in await rows(sessions, Subscription) if s.id == subscription.id]
    assert subscription_now.active is False
    reasons = sorted(e["data"]["reason_code"] for e in failed_events(await rows(sessions, OutboxRecord)))
    assert reasons == ["endpoint_disabled", "endpoint_gone"]


async def test_every_attempt_is_logged_with_its_answer_error_and_duration(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    _, _, [delivery_id] = await setup(partners, sessions, clock, receiver.url, new_case_opened())
    receiver.status = 503
    first_at = clock.now()
    await attempt(sessions, delivery_id, http, clock)
    clock.advance(timedelta(seconds=5))
    receiver.status = 200
    await attempt(sessions, delivery_id, http, clock)

    log = sorted(await rows(sessions, DeliveryAttempt), key=lambda a: a.attempt)
    assert [(a.delivery_id, a.attempt, a.at, a.status_code) for a in log] == [
        (delivery_id, 1, first_at, 503),
        (delivery_id, 2, first_at + timedelta(seconds=5), 200),
    ]
    assert all(a.duration_ms >= 0 for a in log)
    assert log[1].error is None


async def test_giving_up_after_the_schedule_emits_retries_exhausted(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    _, _, [delivery_id] = await setup(partners, sessions, clock, receiver.url, new_case_opened())
    receiver.status = 500
    delivery = await attempt(sessions, delivery_id, http, clock)
    while delivery.status is DeliveryStatus.pending:
        clock.set(delivery.next_attempt_at)
        delivery = await attempt(sessions, delivery_id, http, clock)
    [event] = failed_events(await rows(sessions, OutboxRecord))
    assert event["data"]["reason_code"] == "retries_exhausted"
    assert event["data"]["attempts"] == 10
    assert event["data"]["last_http_status"] == 500


async def test_during_a_rotation_deliveries_carry_both_signatures(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    partner, _, [before, during, after] = await setup(
        partners, sessions, clock, receiver.url, new_case_opened(), new_case_opened(), new_case_opened()
    )
    old_secret = partner.outbound_secret
    await attempt(sessions, before, http, clock)
    async with sessions() as session, session.begin():
        rotated = await registry.rotate_secrets(
            session, partner_id=partner.id, request=SecretRotation(), grace=timedelta(hours=1), clock=clock
        )
    await attempt(sessions, during, http, clock)
    clock.advance(timedelta(hours=1))
    await attempt(sessions, after, http, clock)

    first, second, third = receiver.received
    assert len(first.headers["webhook-signature"].split(" ")) == 1
    assert len(second.headers["webhook-signature"].split(" ")) == 2
    assert len(third.headers["webhook-signature"].split(" ")) == 1
    # During the grace period a partner checking with either secret accepts the delivery.
    for secret in (old_secret, rotated.outbound_secret):
        Webhook(secret).verify(second.body, second.headers)
    # (After the clock moved on, Webhook.verify would refuse the timestamp against the wall clock: sign and compare.)
    at = datetime.fromtimestamp(int(third.headers["webhook-timestamp"]), UTC)
    expected = Webhook(rotated.outbound_secret).sign(third.headers["webhook-id"], at, third.body.decode())
    assert third.headers["webhook-signature"] == expected


async def test_a_replay_sends_the_same_message_again_with_the_same_webhook_id(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    partner, _, [delivery_id] = await setup(partners, sessions, clock, receiver.url, new_case_opened())
    receiver.status = 404
    assert (await attempt(sessions, delivery_id, http, clock)).status is DeliveryStatus.gave_up
    receiver.status = 200
    async with sessions() as session, session.begin():
        replayed = await replay(session, partner_id=partner.id, delivery_id=delivery_id, clock=clock)
        assert (replayed.status, replayed.next_attempt_at) == (DeliveryStatus.pending, clock.now())

    delivery = await attempt(sessions, delivery_id, http, clock)

    assert (delivery.status, delivery.attempts) == (DeliveryStatus.delivered, 2)
    [received] = receiver.received
    assert received.headers["webhook-id"] == delivery_id
    Webhook(partner.outbound_secret).verify(received.body, received.headers)
