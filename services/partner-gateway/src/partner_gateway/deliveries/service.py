"""Fanning case events out to subscriptions, and delivering them signed, in order per case."""

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from standardwebhooks.webhooks import Webhook

from eviction_schemas.envelope import CloudEvent
from partner_gateway.deliveries.minimisation import event_name, may_receive, minimise
from partner_gateway.deliveries.models import Delivery, DeliveryStatus
from partner_gateway.partners.models import Partner
from partner_gateway.partners.repository import PartnerRepository
from service_kit.clock import Clock
from service_kit.db import supports_skip_locked

# After the first attempt: retries spread over about three days (Standard Webhooks' usual schedule).
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=24),
)


async def fan_out(session: AsyncSession, *, event: CloudEvent, clock: Clock) -> list[Delivery]:
    """One pending delivery per active subscription that wants this event and whose kind may see it."""
    deliveries = []
    for subscription, partner in await PartnerRepository(session).active_subscriptions():
        if event_name(event.type) not in subscription.event_types or not may_receive(partner.kind, event.type):
            continue
        delivery = Delivery(
            id=f"msg_{uuid.uuid4().hex}",
            subscription_id=subscription.id,
            partner_id=partner.id,
            case_id=event.subject,
            event_id=str(event.id),
            event_type=event.type,
            sequence=event.sequence_number,
            payload=json.dumps(minimise(partner.kind, event), separators=(",", ":")).encode(),
            status=DeliveryStatus.pending,
            attempts=0,
            next_attempt_at=clock.now(),
            created_at=clock.now(),
        )
        session.add(delivery)
        deliveries.append(delivery)
    return deliveries


async def due_deliveries(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[Delivery]:
    """Pending deliveries that are due and have no earlier pending delivery of the same case to the same
    subscription: order per case per endpoint holds even across retries."""
    earlier = aliased(Delivery)
    blocked = (
        select(earlier.id)
        .where(
            and_(
                earlier.subscription_id == Delivery.subscription_id,
                earlier.case_id == Delivery.case_id,
                earlier.status == DeliveryStatus.pending,
                earlier.sequence < Delivery.sequence,
            )
        )
        .exists()
    )
    query = (
        select(Delivery)
        .where(Delivery.status == DeliveryStatus.pending, Delivery.next_attempt_at <= now, ~blocked)
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    if supports_skip_locked(session):
        query = query.with_for_update(skip_locked=True, of=Delivery)
    return (await session.scalars(query)).all()


async def deliver(session: AsyncSession, *, delivery: Delivery, http: httpx.AsyncClient, clock: Clock) -> bool:
    """One signed attempt; on failure the next attempt is scheduled, or the delivery is given up."""
    from partner_gateway.partners.models import Subscription

    subscription = await session.get(Subscription, delivery.subscription_id)
    partner = await session.get(Partner, delivery.partner_id)
    assert subscription is not None
    assert partner is not None
    now = clock.now()
    body = delivery.payload.decode()
    signature = Webhook(partner.outbound_secret).sign(delivery.id, now, body)
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    delivery.attempts += 1
    try:
        response = await http.post(subscription.callback_url, content=body, headers=headers)
    except httpx.HTTPError as error:
        _schedule_retry(delivery, now=now, status=None, error=f"{type(error).__name__}: {error}")
        return False
    if 200 <= response.status_code < 300:
        delivery.status = DeliveryStatus.delivered
        delivery.delivered_at = now
        delivery.last_status_code = response.status_code
        return True
    _schedule_retry(delivery, now=now, status=response.status_code, error=response.text[:200])
    return False


def _schedule_retry(delivery: Delivery, *, now: datetime, status: int | None, error: str) -> None:
    delivery.last_status_code = status
    delivery.last_error = error[:500]
    if delivery.attempts > len(RETRY_SCHEDULE):
        delivery.status = DeliveryStatus.gave_up
        return
    delivery.next_attempt_at = now + RETRY_SCHEDULE[delivery.attempts - 1]
