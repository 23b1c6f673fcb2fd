"""Fanning case events out to subscriptions, and delivering them signed, in order per case."""

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from opentelemetry.trace import SpanKind
from prometheus_client import Counter
from sqlalchemy import and_, func, select
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
from service_kit.tracing import current_traceparent, span

log = logging.getLogger(__name__)

# In the delivery worker's registry (its metrics server); the API counts deliveries by status when scraped.
DELIVERY_ATTEMPTS = Counter(
    "partner_delivery_attempts_total",
    "Webhook delivery attempts by outcome: delivered, retry (scheduled again) or gave_up.",
    ["outcome"],
)

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
            traceparent=current_traceparent() or event.traceparent,
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
    """One signed attempt; on failure the next attempt is scheduled, or the delivery is given up. The request
    carries a `traceparent` that continues the trace of the event."""
    with span("webhook deliver", traceparent=delivery.traceparent, kind=SpanKind.CLIENT):
        delivered = await _attempt(session, delivery=delivery, http=http, clock=clock)
        outcome = "delivered" if delivered else "gave_up" if delivery.status is DeliveryStatus.gave_up else "retry"
        DELIVERY_ATTEMPTS.labels(outcome).inc()
        log.info(
            "delivery %s of event %s to partner %s, attempt %d: %s (status %s)",
            delivery.id,
            delivery.event_id,
            delivery.partner_id,
            delivery.attempts,
            outcome,
            delivery.last_status_code,
        )
    return delivered


async def _attempt(session: AsyncSession, *, delivery: Delivery, http: httpx.AsyncClient, clock: Clock) -> bool:
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
    traceparent = current_traceparent()
    if traceparent:
        headers["traceparent"] = traceparent
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


async def count_by_status_and_attempts(session: AsyncSession) -> list[tuple[DeliveryStatus, int, int]]:
    query = select(Delivery.status, Delivery.attempts, func.count()).group_by(Delivery.status, Delivery.attempts)
    return [(status, attempts, int(count)) for status, attempts, count in (await session.execute(query)).all()]
