"""Fanning case events out to subscriptions, and delivering them signed, in order per case."""

import json
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from opentelemetry.trace import SpanKind
from prometheus_client import Counter
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from standardwebhooks.webhooks import Webhook

from eviction_schemas.envelope import CloudEvent, make_event
from eviction_schemas.registry import validate_data
from partner_gateway.config import Settings, get_settings
from partner_gateway.db import OutboxRecord
from partner_gateway.deliveries import facts
from partner_gateway.deliveries.minimisation import (
    REFERRAL_TYPE,
    event_name,
    is_referral,
    may_receive,
    minimise,
    needs_contact_person,
    referral_body,
    sends,
    snapshot,
    with_contact_person,
)
from partner_gateway.deliveries.models import Delivery, DeliveryAttempt, DeliveryStatus
from partner_gateway.inbound.case_api import CaseApi, CaseApiUnavailable
from partner_gateway.inbound.models import ReferenceMap
from partner_gateway.partners.models import Partner, PartnerKind, Subscription
from partner_gateway.partners.repository import PartnerRepository
from service_kit.clock import Clock
from service_kit.db import supports_skip_locked
from service_kit.errors import Conflict, NotFound
from service_kit.outbox import add_event
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
# Answers worth asking again besides 5xx: Too Many Requests (with Retry-After honoured). 410 disables the endpoint.
RETRIED_STATUSES = frozenset({429})
# Kinds that receive their own cases only (contract.md): a case reaches them once reference_map ties it to them
# (link_case), never before.
SCOPED_KINDS = frozenset({PartnerKind.housing_corporation, PartnerKind.bailiff, PartnerKind.utility})
# case-api's answers to a referral read that mean: nothing personal may go (consent withdrawn, case or consent
# unknown, personal data erased). The referral is given up and never sent.
REFERRAL_REFUSED = {409: "consent_withdrawn", 404: "referral_not_found", 410: "referral_not_found"}


async def fan_out(session: AsyncSession, *, event: CloudEvent, clock: Clock) -> list[Delivery]:
    """One pending delivery per active subscription that wants this event and whose kind may see it (only the
    fields of the minimisation table are stored). A corporation, bailiff or utility gets it only when the case
    is linked to it (reference_map) by now; the case's facts are kept (deliveries/facts.py) for a partner linked
    later, which then gets a snapshot of them (`link_case`). The case's facts row is locked for the transaction."""
    now = clock.now()
    row = await facts.lock(session, case_id=event.subject, now=now)
    before = facts.Facts.from_json(row.facts)
    facts.record(row, event=event, facts=facts.apply(before, event), now=now)
    linked = await _linked_partners(session, event.subject)
    deliveries = []
    for subscription, partner in await PartnerRepository(session).active_subscriptions():
        if event_name(event.type) not in subscription.event_types or not may_receive(partner.kind, event.type):
            continue
        if partner.kind in SCOPED_KINDS and partner.id not in linked:
            continue  # not this partner's case (yet): should it be linked later, it gets the snapshot then
        if not sends(partner.kind, event, before):
            continue
        body = minimise(partner.kind, event, before)
        if is_referral(partner.kind, event.type):
            await _map_referral(
                session, partner_id=partner.id, reference=body["data"]["consent_id"], case_id=event.subject, now=now
            )
        deliveries.append(
            _new_delivery(
                session,
                subscription=subscription,
                body=body,
                sequence=event.sequence_number,
                now=now,
                traceparent=current_traceparent() or event.traceparent,
            )
        )
    return deliveries


async def _map_referral(session: AsyncSession, *, partner_id: str, reference: str, case_id: str, now: datetime) -> None:
    """A referral's reference (its consent's id, sent as `data.reference`) maps to its case, so that MEE Noord's
    messages about the referral find it (inbound/forwarding.py)."""
    if await session.get(ReferenceMap, (partner_id, reference)) is None:
        session.add(
            ReferenceMap(partner_id=partner_id, reference=reference, case_id=case_id, created_at=now, updated_at=now)
        )
        await session.flush()  # a second subscription of the partner finds it


async def link_case(session: AsyncSession, *, partner_id: str, case_id: str, now: datetime) -> list[Delivery]:
    """A partner's first message about a case linked it (reference_map): a corporation, bailiff or utility gets
    one case.snapshot per active subscription with the facts of the case its kind may see now, in order before
    every later event of the case. Nothing when no event of the case was seen yet (they will all come), or when
    the subscription's event types carry nothing known yet. The case's facts row is locked for the transaction."""
    partner = await session.get(Partner, partner_id)
    if partner is None or partner.kind not in SCOPED_KINDS:
        return []
    row = await facts.lock(session, case_id=case_id, now=now)
    if row.sequence == 0:
        return []
    current = facts.Facts.from_json(row.facts)
    deliveries = []
    for subscription in await PartnerRepository(session).subscriptions_of(partner.id):
        if not subscription.active:
            continue
        body = snapshot(
            partner.kind,
            current,
            event_types=subscription.event_types,
            case_id=case_id,
            snapshot_id=str(uuid.uuid4()),
            at=now,
        )
        if body is None:
            continue
        # The sequence of the last event the facts hold: after every earlier event, before every later one.
        delivery = _new_delivery(
            session, subscription=subscription, body=body, sequence=row.sequence, now=now, traceparent=None
        )
        deliveries.append(delivery)
    if deliveries:
        log.info("case linked to partner %s: %d snapshot deliveries", partner.id, len(deliveries))
    return deliveries


def _new_delivery(
    session: AsyncSession,
    *,
    subscription: Subscription,
    body: dict[str, Any],
    sequence: int,
    now: datetime,
    traceparent: str | None,
) -> Delivery:
    delivery = Delivery(
        id=f"msg_{uuid.uuid4().hex}",
        subscription_id=subscription.id,
        partner_id=subscription.partner_id,
        case_id=body["subject"],
        event_id=body["id"],
        event_type=body["type"],  # a referral's or a snapshot's own type, else the event's
        sequence=sequence,
        payload=json.dumps(body, separators=(",", ":")).encode(),
        status=DeliveryStatus.pending,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        traceparent=traceparent or current_traceparent(),
    )
    session.add(delivery)
    return delivery


async def _linked_partners(session: AsyncSession, case_id: str) -> set[str]:
    query = select(ReferenceMap.partner_id).where(ReferenceMap.case_id == case_id).distinct()
    return set((await session.scalars(query)).all())


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


async def deliver(
    session: AsyncSession,
    *,
    delivery: Delivery,
    http: httpx.AsyncClient,
    clock: Clock,
    settings: Settings | None = None,
    case_api: CaseApi | None = None,
) -> bool:
    """One signed attempt; on failure the next attempt is scheduled, or the delivery is given up. The request
    carries a `traceparent` that continues the trace of the event. A referral to MEE Noord reads its details
    from `case_api` first."""
    settings = settings or get_settings()
    with span("webhook deliver", traceparent=delivery.traceparent, kind=SpanKind.CLIENT):
        attempts_before = delivery.attempts
        delivered = await _attempt(
            session, delivery=delivery, http=http, clock=clock, settings=settings, case_api=case_api
        )
        if delivery.attempts == attempts_before:
            # No request was made (the case is no longer this partner's, or a referral's consent is gone): not
            # an attempt, so not counted.
            log.info(
                "delivery %s to partner %s not sent: %s", delivery.id, delivery.partner_id, delivery.gave_up_reason
            )
            return False
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


def sign(partner: Partner, *, webhook_id: str, at: datetime, body: str) -> str:
    """The webhook-signature header: one `v1,` signature per valid outbound secret, space-separated (Standard
    Webhooks), so a partner that still checks with the previous secret keeps working during a rotation."""
    return " ".join(Webhook(secret).sign(webhook_id, at, body) for secret in partner.outbound_secrets(at))


async def _still_linked(session: AsyncSession, *, delivery: Delivery, partner: Partner) -> bool:
    """Whether the case is still this partner's (reference_map) for the kinds that see their own cases only. A
    delivery is made only for a linked case; should the partner's reference have been moved to another case
    since, what is still pending of the old one is not sent."""
    if partner.kind not in SCOPED_KINDS:
        return True
    query = select(ReferenceMap.case_id).where(
        ReferenceMap.partner_id == partner.id, ReferenceMap.case_id == delivery.case_id
    )
    return (await session.scalar(query.limit(1))) is not None


async def _attempt(
    session: AsyncSession,
    *,
    delivery: Delivery,
    http: httpx.AsyncClient,
    clock: Clock,
    settings: Settings,
    case_api: CaseApi | None,
) -> bool:
    subscription = await session.get(Subscription, delivery.subscription_id)
    partner = await session.get(Partner, delivery.partner_id)
    assert subscription is not None
    assert partner is not None
    now = clock.now()
    if not await _still_linked(session, delivery=delivery, partner=partner):
        # Not a failure of the partner's endpoint (no partner.delivery-failed): nothing of it goes to this partner.
        delivery.status = DeliveryStatus.gave_up
        delivery.gave_up_reason = "not_linked"
        return False
    if not subscription.active:
        await _give_up(session, delivery, reason="endpoint_disabled", now=now, settings=settings)
        return False
    body = delivery.payload.decode()
    stored = json.loads(body)
    if delivery.event_type == REFERRAL_TYPE:
        referral = await _read_referral(session, delivery=delivery, case_api=case_api, now=now, settings=settings)
        if referral is None:
            return False
        body = referral  # sent, never stored: the delivery keeps the consent's id only
    elif needs_contact_person(stored):
        completed = await _read_contact_person(
            session, delivery=delivery, stored=stored, case_api=case_api, now=now, settings=settings
        )
        if completed is None:
            return False
        body = completed  # sent, never stored: the delivery keeps the contact person's kind only
    headers = {
        "content-type": "application/json",
        # The same webhook-id on every retry and replay: it is the same message, so a partner dedupes on it.
        "webhook-id": delivery.id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(partner, webhook_id=delivery.id, at=now, body=body),
    }
    traceparent = current_traceparent()
    if traceparent:
        headers["traceparent"] = traceparent
    delivery.attempts += 1
    started = time.perf_counter()
    try:
        response = await http.post(subscription.callback_url, content=body, headers=headers)
    except httpx.HTTPError as failure:
        message = f"{type(failure).__name__}: {failure}"[:500]
        _log_attempt(session, delivery, at=now, started=started, status=None, error=message)
        await _schedule_retry(session, delivery, now=now, status=None, error=message, settings=settings)
        return False
    code = response.status_code
    if 200 <= code < 300:
        _log_attempt(session, delivery, at=now, started=started, status=code, error=None)
        delivery.status = DeliveryStatus.delivered
        delivery.delivered_at = now
        delivery.last_status_code = code
        delivery.last_error = None
        return True
    error = response.text[:200]
    _log_attempt(session, delivery, at=now, started=started, status=code, error=error)
    delivery.last_status_code = code
    delivery.last_error = error
    if code == 410:
        # Gone: the partner retired this endpoint. Stop sending to it at all (contract.md, outbound).
        await _give_up(session, delivery, reason="endpoint_gone", now=now, settings=settings)
        await disable_subscription(session, subscription=subscription, now=now, settings=settings)
        return False
    if code in RETRIED_STATUSES or code >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=now)
        await _schedule_retry(
            session, delivery, now=now, status=code, error=error, settings=settings, at_least=retry_after
        )
        return False
    # Any other answer (4xx, 3xx: redirects are not followed) will not change by asking again.
    await _give_up(session, delivery, reason="refused", now=now, settings=settings)
    return False


async def _read_referral(
    session: AsyncSession, *, delivery: Delivery, case_api: CaseApi | None, now: datetime, settings: Settings
) -> str | None:
    """The referral's body, read from case-api now, under the consent the delivery names (R9); None when it
    cannot go now (case-api unreachable: retried) or at all (no valid consent: given up, nothing sent)."""
    stored = json.loads(delivery.payload)
    started = time.perf_counter()
    error: str
    try:
        if case_api is None:
            raise CaseApiUnavailable("the delivery worker has no case-api client for referrals")
        answer = await case_api.get(
            f"/v1/cases/{delivery.case_id}/oco-referral", params={"consentId": stored["data"]["consent_id"]}
        )
    except CaseApiUnavailable as failure:
        error = f"case-api: {failure}"
    else:
        if answer.ok and isinstance(answer.body, dict):
            return json.dumps(referral_body(stored, answer.body), separators=(",", ":"))
        if (reason := REFERRAL_REFUSED.get(answer.status_code)) is not None:
            # Not a failure of the partner's endpoint (no partner.delivery-failed): the household's consent is
            # gone, so the referral must never be sent, however often it is replayed.
            delivery.status = DeliveryStatus.gave_up
            delivery.gave_up_reason = reason
            delivery.last_error = f"case-api answered {answer.status_code}: {_problem_title(answer.body)}"[:500]
            log.info("referral %s to partner %s not sent: %s", delivery.id, delivery.partner_id, reason)
            return None
        error = f"case-api answered {answer.status_code}: {_problem_title(answer.body)}"
    # case-api down, or refusing the service token: the referral waits, on the retry schedule.
    delivery.attempts += 1
    _log_attempt(session, delivery, at=now, started=started, status=None, error=error[:500])
    await _schedule_retry(session, delivery, now=now, status=None, error=error, settings=settings)
    return None


# case-api's answers to a contact-person read that mean: there is none to pass on (never assigned, the case
# unknown or its personal data erased). The webhook goes with contact_person null.
NO_CONTACT_PERSON = frozenset({404, 409, 410})


async def _read_contact_person(
    session: AsyncSession,
    *,
    delivery: Delivery,
    stored: dict[str, Any],
    case_api: CaseApi | None,
    now: datetime,
    settings: Settings,
) -> str | None:
    """The bailiff's webhook with the case's contact person read from case-api now (the name and work contact
    details never travel through Kafka nor are stored here); None when case-api cannot be asked now (retried)."""
    started = time.perf_counter()
    error: str
    try:
        if case_api is None:
            raise CaseApiUnavailable("the delivery worker has no case-api client for contact persons")
        answer = await case_api.get(f"/v1/cases/{delivery.case_id}/contact-person")
    except CaseApiUnavailable as failure:
        error = f"case-api: {failure}"
    else:
        if answer.ok and isinstance(answer.body, dict):
            return json.dumps(with_contact_person(stored, answer.body), separators=(",", ":"))
        if answer.status_code in NO_CONTACT_PERSON:
            return json.dumps(with_contact_person(stored, None), separators=(",", ":"))
        error = f"case-api answered {answer.status_code}: {_problem_title(answer.body)}"
    delivery.attempts += 1
    _log_attempt(session, delivery, at=now, started=started, status=None, error=error[:500])
    await _schedule_retry(session, delivery, now=now, status=None, error=error, settings=settings)
    return None


def _problem_title(body: Any) -> str:
    """The title of an RFC 9457 problem (never its detail, which may name a case's facts)."""
    title = body.get("title") if isinstance(body, dict) else None
    return str(title) if title else "no problem details"


def _log_attempt(
    session: AsyncSession, delivery: Delivery, *, at: datetime, started: float, status: int | None, error: str | None
) -> None:
    session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            at=at,
            status_code=status,
            error=error,
            duration_ms=round((time.perf_counter() - started) * 1000),
        )
    )


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """Retry-After as delay-seconds or an HTTP date (RFC 9110 10.2.3); None when absent or unreadable. Capped at
    the schedule's longest step, so an endpoint cannot park a delivery for ever."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        delay = when - now
    return min(max(delay, timedelta(0)), RETRY_SCHEDULE[-1])


async def _schedule_retry(
    session: AsyncSession,
    delivery: Delivery,
    *,
    now: datetime,
    status: int | None,
    error: str,
    settings: Settings,
    at_least: timedelta | None = None,
) -> None:
    delivery.last_status_code = status
    delivery.last_error = error[:500]
    step = delivery.attempts - delivery.schedule_start
    if step > len(RETRY_SCHEDULE):
        await _give_up(session, delivery, reason="retries_exhausted", now=now, settings=settings)
        return
    wait = RETRY_SCHEDULE[step - 1]
    if at_least is not None and at_least > wait:
        wait = at_least  # the endpoint asked for a longer pause (429/503 with Retry-After)
    delivery.next_attempt_at = now + wait


async def _give_up(
    session: AsyncSession, delivery: Delivery, *, reason: str, now: datetime, settings: Settings
) -> None:
    """Stop trying, and report it as partner.delivery-failed through the gateway's outbox (same transaction)."""
    delivery.status = DeliveryStatus.gave_up
    delivery.gave_up_reason = reason
    partner = await session.get(Partner, delivery.partner_id)
    assert partner is not None
    data: dict[str, Any] = {
        "partner_id": partner.id,
        "partner_kind": partner.kind.value,
        "delivery_id": delivery.id,
        "message_type": event_name(delivery.event_type),
        "idempotency_key": delivery.id,
        "attempts": max(delivery.attempts, 1),
        "reason_code": reason,
    }
    if delivery.last_status_code is not None:
        data["last_http_status"] = delivery.last_status_code
    validate_data("partner.delivery-failed", data)
    event = make_event(
        event="partner.delivery-failed",
        source_service=settings.service_name,
        oin=settings.oin,
        subject=delivery.case_id,
        # The gateway's own sequence per case: time-based, so it rises for every event of the case it reports.
        sequence=_time_sequence(now),
        data=data,
        time=now,
        traceparent=current_traceparent() or delivery.traceparent,
    )
    add_event(session, OutboxRecord, topic=settings.partner_events_topic, event=event, now=now)


_last_sequence = 0


def _time_sequence(now: datetime) -> int:
    """Microseconds since the epoch, strictly increasing within this process (two give-ups in one instant)."""
    global _last_sequence
    _last_sequence = max(_last_sequence + 1, int(now.timestamp() * 1_000_000))
    return _last_sequence


async def disable_subscription(
    session: AsyncSession, *, subscription: Subscription, now: datetime, settings: Settings
) -> list[Delivery]:
    """Switch a subscription off and give up its pending deliveries (reported as endpoint_disabled)."""
    subscription.active = False
    await session.flush()  # a delivery given up just now is not pending any more
    pending = (
        await session.scalars(
            select(Delivery).where(
                Delivery.subscription_id == subscription.id, Delivery.status == DeliveryStatus.pending
            )
        )
    ).all()
    for delivery in pending:
        await _give_up(session, delivery, reason="endpoint_disabled", now=now, settings=settings)
    return list(pending)


async def replay(session: AsyncSession, *, partner_id: str, delivery_id: str, clock: Clock) -> Delivery:
    """Queue a delivered or given-up delivery again. It is the same message, so it keeps its webhook-id; the
    retry schedule starts again from its first step."""
    delivery = await get_delivery(session, partner_id=partner_id, delivery_id=delivery_id)
    if delivery.status is DeliveryStatus.pending:
        raise Conflict(f"delivery {delivery_id} is still pending; it will be tried again by itself", field="status")
    subscription = await session.get(Subscription, delivery.subscription_id)
    assert subscription is not None
    if not subscription.active:
        raise Conflict(
            f"subscription {subscription.id} is inactive (e.g. its endpoint answered 410); subscribe again first",
            field="subscription_id",
        )
    delivery.status = DeliveryStatus.pending
    delivery.schedule_start = delivery.attempts
    delivery.gave_up_reason = None
    delivery.next_attempt_at = clock.now()
    return delivery


async def get_delivery(session: AsyncSession, *, partner_id: str, delivery_id: str) -> Delivery:
    """A delivery of this partner; another partner's delivery is as unknown as a missing one (404)."""
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None or delivery.partner_id != partner_id:
        raise NotFound(f"partner {partner_id} has no delivery {delivery_id}", field="delivery_id")
    return delivery


async def list_deliveries(
    session: AsyncSession, *, partner_id: str, status: DeliveryStatus | None, limit: int, offset: int
) -> tuple[list[Delivery], int]:
    if await session.get(Partner, partner_id) is None:
        raise NotFound(f"no partner with id {partner_id}", field="partner_id")
    where = [Delivery.partner_id == partner_id]
    if status is not None:
        where.append(Delivery.status == status)
    total = await session.scalar(select(func.count()).select_from(Delivery).where(*where))
    query = select(Delivery).where(*where).order_by(Delivery.created_at.desc(), Delivery.id).limit(limit).offset(offset)
    return list((await session.scalars(query)).all()), int(total or 0)


async def list_attempts(session: AsyncSession, *, partner_id: str, delivery_id: str) -> list[DeliveryAttempt]:
    await get_delivery(session, partner_id=partner_id, delivery_id=delivery_id)
    query = select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.attempt)
    return list((await session.scalars(query)).all())


async def count_by_status_and_attempts(session: AsyncSession) -> list[tuple[DeliveryStatus, int, int]]:
    query = select(Delivery.status, Delivery.attempts, func.count()).group_by(Delivery.status, Delivery.attempts)
    return [(status, attempts, int(count)) for status, attempts, count in (await session.execute(query)).all()]
