"""The life of a notification: requested, sending, sent, delivered, temporary or permanent failure, cancelled.

Every change is one function here. It records a DeliveryAttempt and, where the contract asks for it, stages a
notification.* event in the notifier's outbox in the same transaction (never the address or the text). A
temporary failure is retried with a doubling backoff until the attempts run out; a permanent failure falls back
to the moment's next written channel that was not tried, or else to a caseworker task.
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from eviction_schemas.envelope import CloudEvent, make_event
from eviction_schemas.registry import validate_data
from notifier.config import Settings, get_settings
from notifier.db import OutboxRecord
from notifier.notifications.choice import TASK, fallback_channels
from notifier.notifications.models import ChannelDecision, DeliveryAttempt, Notification, Status
from service_kit.clock import Clock
from service_kit.outbox import add_event, outbox_row
from service_kit.tracing import current_traceparent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """How the lifecycle behaves; from the settings in the workers, explicit in tests."""

    oin: str
    topic: str
    max_attempts: int = 6
    retry_base_seconds: float = 60.0
    source_service: str = "notifier"

    @classmethod
    def from_settings(cls, settings: Settings) -> "Policy":
        return cls(
            oin=settings.oin,
            topic=settings.notification_events_topic,
            max_attempts=settings.max_attempts,
            retry_base_seconds=settings.retry_base_seconds,
            source_service=settings.service_name,
        )


_last_sequence = 0


def _sequence(now: datetime) -> int:
    """Microseconds since the epoch, strictly increasing within this process."""
    global _last_sequence
    _last_sequence = max(_last_sequence + 1, int(now.timestamp() * 1_000_000))
    return _last_sequence


@dataclass
class Rows:
    """Delivery attempts and outbox events of many status changes in one transaction, written by `write` with one
    INSERT per table rather than as ORM objects, each flushed on its own: the dispatcher changes hundreds of
    notifications per transaction. A caller that passes `rows` to the functions below calls `write` before it
    commits."""

    attempts: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def add_event(self, *, topic: str, event: CloudEvent, now: datetime) -> None:
        self.events.append(outbox_row(topic=topic, event=event, now=now))

    async def write(self, session: AsyncSession) -> None:
        attempts, events = self.attempts, self.events
        self.attempts, self.events = [], []
        if attempts:
            await session.execute(insert(DeliveryAttempt), attempts)
        if events:
            await session.execute(insert(OutboxRecord), events)


def record(
    session: AsyncSession,
    notification: Notification,
    *,
    now: datetime,
    reason: str | None = None,
    rows: Rows | None = None,
) -> None:
    values = {
        "notification_id": notification.id,
        "attempt": max(notification.attempts, 1),
        "status": notification.status,
        "reason": reason,
        "provider_reference": notification.provider_reference,
        "at": now,
    }
    if rows is not None:
        rows.attempts.append(values)
    else:
        session.add(DeliveryAttempt(**values))


def emit(
    session: AsyncSession,
    policy: Policy,
    notification: Notification,
    event: str,
    *,
    now: datetime,
    rows: Rows | None = None,
    **extra: Any,
) -> None:
    """Stage notification.<event> for the case-events consumers (case-api records it as a contact attempt)."""
    data: dict[str, Any] = {
        "notification_id": notification.id,
        "moment": notification.moment.value,
        "channel": notification.channel,
        "language": notification.language,
        "attempt": max(notification.attempts, 1),
    }
    days = notification.facts.get("days_before_eviction")
    if days is not None:
        data["days_before_eviction"] = days
    data.update({k: v for k, v in extra.items() if v is not None})
    validate_data(f"notification.{event}", data)
    cloud_event = make_event(
        event=f"notification.{event}",
        source_service=policy.source_service,
        oin=policy.oin,
        subject=notification.case_id,
        sequence=_sequence(now),
        data=data,
        time=now,
        traceparent=current_traceparent(),
    )
    if rows is not None:
        rows.add_event(topic=policy.topic, event=cloud_event, now=now)
    else:
        add_event(session, OutboxRecord, topic=policy.topic, event=cloud_event, now=now)


def provider_reference_for_event(reference: str | None) -> str | None:
    """The contract's provider reference: a Message-ID without its angle brackets, never an address."""
    if not reference:
        return None
    return reference.strip("<>")[:256] or None


def mark_requested(
    session: AsyncSession, policy: Policy, notification: Notification, *, now: datetime, rows: Rows | None = None
) -> None:
    session.add(notification)
    record(session, notification, now=now, reason=notification.reason, rows=rows)
    emit(session, policy, notification, "requested", now=now, rows=rows)


def mark_sending(notification: Notification, *, now: datetime) -> None:
    notification.status = Status.sending
    notification.attempts += 1
    notification.sending_since = now


def mark_sent(
    session: AsyncSession,
    policy: Policy,
    notification: Notification,
    *,
    provider_reference: str | None,
    now: datetime,
    rows: Rows | None = None,
) -> None:
    notification.status = Status.sent
    notification.sent_at = now
    notification.sending_since = None
    notification.provider_reference = provider_reference
    notification.reason = None
    record(session, notification, now=now, rows=rows)
    emit(
        session,
        policy,
        notification,
        "sent",
        now=now,
        rows=rows,
        provider_reference=provider_reference_for_event(provider_reference),
    )


def mark_delivered(session: AsyncSession, policy: Policy, notification: Notification, *, now: datetime) -> None:
    if notification.status is Status.delivered:
        return
    notification.status = Status.delivered
    notification.delivered_at = now
    notification.sending_since = None
    record(session, notification, now=now)
    emit(
        session,
        policy,
        notification,
        "delivered",
        now=now,
        provider_reference=provider_reference_for_event(notification.provider_reference),
    )


async def mark_failed(
    session: AsyncSession,
    policy: Policy,
    notification: Notification,
    *,
    permanent: bool,
    reason_code: str,
    now: datetime,
    rows: Rows | None = None,
) -> Notification | None:
    """A failed attempt. Temporary: retried after a backoff, permanent once the attempts run out. Permanent: the
    fallback (returned) is requested in the same transaction."""
    notification.sending_since = None
    notification.reason = reason_code
    if not permanent and notification.attempts >= policy.max_attempts:
        permanent, reason_code = True, f"{reason_code}_gave_up"[:64]
        notification.reason = reason_code
    if not permanent:
        notification.status = Status.temporary_failure
        backoff = policy.retry_base_seconds * 2 ** max(notification.attempts - 1, 0)
        notification.due_at = now + timedelta(seconds=backoff)
    else:
        notification.status = Status.permanent_failure
    record(session, notification, now=now, reason=reason_code, rows=rows)
    emit(
        session,
        policy,
        notification,
        "failed",
        now=now,
        rows=rows,
        permanent=permanent,
        reason_code=_code(reason_code),
        provider_reference=provider_reference_for_event(notification.provider_reference),
    )
    if permanent:
        return await fall_back(session, policy, notification, now=now, rows=rows)
    return None


def _code(reason: str) -> str:
    """A reason as the contract's snake_case code."""
    code = "".join(ch if ch.isalnum() else "_" for ch in reason.lower()).strip("_")
    while "__" in code:
        code = code.replace("__", "_")
    if not code or not code[0].isalpha():
        code = "failed_" + code
    return code[:64]


async def fall_back(
    session: AsyncSession, policy: Policy, failed_one: Notification, *, now: datetime, rows: Rows | None = None
) -> Notification | None:
    """Request the moment's next written channel not yet used for this occasion, or a caseworker task."""
    await session.flush()
    used = set(
        (
            await session.scalars(
                select(Notification.channel).where(
                    Notification.case_id == failed_one.case_id,
                    Notification.moment == failed_one.moment,
                    Notification.occasion == failed_one.occasion,
                )
            )
        ).all()
    )
    # A channel the household had no valid address for when the moment fired is no fallback.
    unreachable = {
        str(reason.get("channel"))
        for decision in (
            await session.scalars(
                select(ChannelDecision).where(
                    ChannelDecision.case_id == failed_one.case_id,
                    ChannelDecision.moment == failed_one.moment,
                    ChannelDecision.occasion == failed_one.occasion,
                )
            )
        ).all()
        for reason in decision.reasons
        if reason.get("reachable") is False
    }
    remaining = [c for c in fallback_channels(failed_one.moment) if c not in used and c not in unreachable]
    channel = remaining[0] if remaining else TASK
    if channel in used:  # a task was already made for this moment: nothing more to fall back to
        log.warning("notification %s failed permanently and no fallback is left", failed_one.id)
        return None
    fallback = Notification(
        id=str(uuid.uuid4()),
        case_id=failed_one.case_id,
        moment=failed_one.moment,
        occasion=failed_one.occasion,
        channel=channel,
        language=failed_one.language,
        status=Status.requested,
        attempts=0,
        caused_by_event=failed_one.caused_by_event,
        due_at=now,
        facts={**failed_one.facts, **({"task_kind": "home_visit"} if channel == TASK else {})},
        fallback_of=failed_one.id,
        reason=f"fallback after {failed_one.channel} failed: {failed_one.reason}"[:200],
        created_at=now,
    )
    mark_requested(session, policy, fallback, now=now, rows=rows)
    await session.flush()
    return fallback


def mark_cancelled(
    notification: Notification, *, reason: str, session: AsyncSession, now: datetime, rows: Rows | None = None
) -> None:
    notification.status = Status.cancelled
    notification.reason = reason[:200]
    record(session, notification, now=now, reason=reason[:200], rows=rows)


async def apply_delivery_report(
    session: AsyncSession,
    *,
    channel: str,
    provider_reference: str,
    delivered: bool,
    permanent: bool,
    reason_code: str,
    clock: Clock,
    policy: Policy | None = None,
) -> bool:
    """A provider's delivery report for the notification it knows by `provider_reference`; False when unknown.

    A report for a notification still marked sending (the dispatcher stopped between hand-over and commit) proves
    the provider had it: it is settled as sent first, so it is never handed over again."""
    notification = await session.scalar(
        select(Notification)
        .where(Notification.channel == channel, Notification.provider_reference == provider_reference)
        .with_for_update()
    )
    if notification is None:
        notification = await session.scalar(
            select(Notification)
            .where(Notification.channel == channel, Notification.id == provider_reference)
            .with_for_update()
        )
    if notification is None:
        return False
    now = clock.now()
    policy = policy or Policy.from_settings(get_settings())
    if notification.status in {Status.sending, Status.requested, Status.temporary_failure}:
        mark_sent(session, policy, notification, provider_reference=provider_reference, now=now)
    if notification.status in {Status.permanent_failure, Status.cancelled}:
        return True
    if delivered:
        mark_delivered(session, policy, notification, now=now)
    elif notification.status is not Status.delivered:
        await mark_failed(session, policy, notification, permanent=permanent, reason_code=reason_code, now=now)
    return True
