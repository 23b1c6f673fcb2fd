"""The notifier's three steps (docs/adr/0009-notifier-moments-channels-delivery.md):

1. `apply_event` (the consumer, in the transaction that records the event as processed): a case event plans or
   cancels moments (notifications/moments.py).
2. `fire_due_moments` (the dispatcher): a moment that is due reads the household from case-api, chooses its
   channels (notifications/choice.py) and requests one notification per channel.
3. `dispatch_due` (the dispatcher): hands due notifications to their channels and records the outcome
   (notifications/lifecycle.py).
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eviction_schemas.envelope import CloudEvent
from notifier.channels.base import Channel, HandOver, OutgoingMessage
from notifier.notifications import lifecycle
from notifier.notifications.choice import TASK, QuietHours, address_for, decide, language_for
from notifier.notifications.lifecycle import Policy
from notifier.notifications.models import (
    WAITING,
    CaseState,
    ChannelDecision,
    Moment,
    Notification,
    PlannedMoment,
    PlanStatus,
    Status,
)
from notifier.notifications.moments import Timing, changes_for, update_state
from notifier.notifications.repository import NotificationRepository
from notifier.templating.catalog import RenderedMessage, reference_of, render
from notifier.templating.context import ContactLookup, Household, Sender
from service_kit.auth import Principal

log = logging.getLogger(__name__)


class ContactsUnavailable(Exception):
    """The household cannot be read now (case-api down): what needed it waits for the next round."""


# ---------------------------------------------------------------------------------------------- 1. planning


async def apply_event(session: AsyncSession, *, event: CloudEvent, timing: Timing, now: datetime) -> None:
    """Plan and cancel the moments `event` asks for, and keep the case's state."""
    repository = NotificationRepository(session)
    state = await repository.case_state(event.subject, for_update=True)
    changes = changes_for(event, state, timing)
    is_new = state is None
    if state is None:
        state = CaseState(case_id=event.subject, updated_at=event.time)
        session.add(state)
    update_state(state, event)
    for cancel in changes.cancelled:
        for planned in await repository.pending_of(event.subject, cancel.moments):
            if cancel.applies_to(planned.occasion):
                planned.status, planned.settled_at, planned.reason = PlanStatus.cancelled, now, cancel.reason
        for waiting in await repository.waiting_of(event.subject, cancel.moments):
            if cancel.applies_to(waiting.occasion):
                lifecycle.mark_cancelled(waiting, reason=cancel.reason, session=session, now=now)
    if state.closed:
        return
    # Planned once per case, moment and occasion: a redelivered event plans nothing new. A case seen for the
    # first time has nothing planned yet, so it needs no look.
    known = {} if is_new else {(p.moment, p.occasion): p for p in await repository.planned_for_case(event.subject)}
    for plan in changes.planned:
        if (found := known.get((plan.moment, plan.occasion))) is not None:
            if found.status is PlanStatus.cancelled:  # asked for again (an eviction date set back): pending anew
                found.status, found.due_at, found.facts = PlanStatus.pending, plan.due_at, plan.facts
                found.caused_by_event, found.settled_at, found.reason = str(event.id), None, None
            continue
        session.add(
            PlannedMoment(
                id=str(uuid.uuid4()),
                case_id=event.subject,
                moment=plan.moment,
                occasion=plan.occasion,
                due_at=plan.due_at,
                status=PlanStatus.pending,
                caused_by_event=str(event.id),
                facts=plan.facts,
                created_at=now,
            )
        )
    await session.flush()


# ---------------------------------------------------------------------------------------------- 2. firing


async def fire_due_moments(
    session: AsyncSession,
    *,
    contacts: ContactLookup,
    now: datetime,
    quiet: QuietHours,
    policy: Policy,
    limit: int = 200,
    concurrency: int = 1,
) -> int:
    """Turn due moments into requested notifications; how many moments fired. A moment whose household cannot
    be read now stays pending, and so do the ones after it (case-api is down: the round stops asking); one whose
    household is unknown or erased is cancelled. Households are read up to `concurrency` at a time once the
    first one was read."""
    repository = NotificationRepository(session)
    claimed = await repository.claim_due_moments(now, limit)
    if not claimed:
        return 0
    # What each occasion already has, in one look for the whole batch (a moment fired before by a dispatcher
    # stopped after its commit, or a resend); the unique key stays the guarantee.
    taken = await repository.channels_used_by_occasion([planned.case_id for planned in claimed])
    reads = HouseholdReads(contacts, concurrency)
    rows = lifecycle.Rows()
    fired = 0
    try:
        for index, planned in enumerate(claimed):
            # The first household alone (is case-api there?), then up to `concurrency` ahead.
            for ahead in claimed[index : index + (concurrency if index else 1)]:
                reads.start(ahead.case_id)
            try:
                household = await reads.get(planned.case_id)
            except Exception as error:  # case-api down or answering nonsense: try again next round
                log.warning(
                    "household of case %s not readable now (%s): moment %s waits",
                    planned.case_id,
                    error,
                    planned.moment,
                )
                break
            planned.settled_at = now
            if household is None:
                planned.status, planned.reason = PlanStatus.cancelled, "the household is unknown or erased"
                continue
            await request_notifications(
                session,
                planned=planned,
                household=household,
                now=now,
                quiet=quiet,
                policy=policy,
                taken=taken.get((planned.case_id, planned.moment, planned.occasion), set()),
                rows=rows,
            )
            planned.status = PlanStatus.fired
            fired += 1
    finally:
        reads.close()
    await rows.write(session)
    return fired


class HouseholdReads:
    """The households one round reads from case-api: each case once, at most `concurrency` reads at a time."""

    def __init__(self, contacts: ContactLookup, concurrency: int) -> None:
        self._contacts = contacts
        self._slots = asyncio.Semaphore(max(concurrency, 1))
        self._reads: dict[str, asyncio.Future[Household | None]] = {}

    def start(self, case_id: str) -> None:
        if case_id not in self._reads:
            self._reads[case_id] = asyncio.ensure_future(self._read(case_id))

    async def get(self, case_id: str) -> Household | None:
        self.start(case_id)
        return await asyncio.shield(self._reads[case_id])  # a cancelled reader leaves the read to the others

    async def _read(self, case_id: str) -> Household | None:
        async with self._slots:
            return await self._contacts.household(case_id)

    def close(self) -> None:
        """Stop reads nobody waits for any more; a failure of one read ahead of a stop is not an error."""
        for read in self._reads.values():
            if not read.done():
                read.cancel()
            elif not read.cancelled():
                read.exception()  # retrieved: asyncio does not log it as never retrieved


async def request_notifications(
    session: AsyncSession,
    *,
    planned: PlannedMoment,
    household: Household,
    now: datetime,
    quiet: QuietHours,
    policy: Policy,
    taken: set[str] | None = None,
    rows: lifecycle.Rows | None = None,
) -> list[Notification]:
    """One notification per channel `choice.decide` picks that the occasion has none on yet (`taken`: the channels
    it has, looked up when not given), and the decision with its reasons."""
    decision = decide(planned.moment, household, now=now, quiet=quiet)
    session.add(
        ChannelDecision(
            id=str(uuid.uuid4()),
            case_id=planned.case_id,
            moment=planned.moment,
            occasion=planned.occasion,
            language=decision.language,
            reasons=decision.reasons,
            decided_at=now,
        )
    )
    requested = []
    if taken is None:
        taken = await NotificationRepository(session).channels_used(
            case_id=planned.case_id, moment=planned.moment, occasion=planned.occasion
        )
    for chosen in decision.chosen:
        if chosen.channel in taken:
            continue
        facts = dict(planned.facts)
        if chosen.task_kind:
            facts["task_kind"] = chosen.task_kind
        notification = Notification(
            id=str(uuid.uuid4()),
            case_id=planned.case_id,
            moment=planned.moment,
            occasion=planned.occasion,
            channel=chosen.channel,
            language=decision.language
            if chosen.channel == TASK
            else language_for(planned.moment, chosen.channel, household),
            status=Status.requested,
            attempts=0,
            caused_by_event=planned.caused_by_event,
            due_at=chosen.due_at,
            address_kind=chosen.address_kind,
            facts=facts,
            created_at=now,
        )
        lifecycle.mark_requested(session, policy, notification, now=now, rows=rows)
        requested.append(notification)
    return requested


# ---------------------------------------------------------------------------------------------- 3. dispatching


@dataclass
class Round:
    """What one dispatch round did."""

    handed: int = 0
    failed: int = 0
    deferred: int = 0
    notifications: list[str] = field(default_factory=list)


TASK_TEXT = {
    "home_visit": "Visit the household",
    "call": "Call the household",
}
MOMENT_TEXT = {
    Moment.signal: "first letter after an arrears signal",
    Moment.no_contact: "no contact 5 working days after the first letter",
    Moment.threat: "a summons was served",
    Moment.date_set: "an eviction date is set",
    Moment.countdown: "the eviction date is near",
    Moment.averted: "the eviction was averted",
    Moment.evicted: "the eviction was executed",
    Moment.belongings: "the last weeks to reclaim stored belongings",
    Moment.housing_decision: "a temporary-housing decision",
}


def task_message(notification: Notification) -> tuple[str, str]:
    kind = str(notification.facts.get("task_kind", "home_visit"))
    subject = (
        f"{TASK_TEXT.get(kind, 'Contact the household')} ({notification.moment}: {MOMENT_TEXT[notification.moment]})"
    )
    body = notification.reason or "No written channel reached the household; personal contact is needed."
    return subject, body


def render_notification(
    notification: Notification, *, household: Household, sender: Sender, language: str | None = None
) -> RenderedMessage:
    return render(
        f"{notification.moment}.{notification.channel}",
        language=language or notification.language,
        household=household_with_facts(household, notification.facts),
        sender=sender,
        reference=reference_of(notification.case_id),
    )


def household_with_facts(household: Household, facts: dict[str, object]) -> Household:
    """The event's facts win over what case-api had when they differ (the date of this countdown reminder, the
    goods of this belongings message)."""
    from dataclasses import replace

    changes: dict[str, object] = {}
    if isinstance(facts.get("eviction_date"), str):
        changes["eviction_date"] = date.fromisoformat(str(facts["eviction_date"]))
    if isinstance(facts.get("retention_ends_on"), str):
        changes["retention_end"] = date.fromisoformat(str(facts["retention_ends_on"]))
    reference = facts.get("storage_reference")
    if isinstance(reference, str) and reference != household.storage_reference:
        # case-api named other goods (or none still stored): this message's reference, and no place it cannot vouch
        changes["storage_reference"], changes["storage_place"] = reference, None
    extra = {name: facts[name] for name in ("granted", "belongings_message") if name in facts}
    if extra:
        changes["extra"] = dict(household.extra) | extra
    return replace(household, **changes) if changes else household  # type: ignore[arg-type]


def recipient_of(notification: Notification, household: Household) -> str | None:
    from notifier.notifications.choice import normalised_mobile

    if notification.channel == "email":
        return household.email
    if notification.channel == "sms":
        return normalised_mobile(household.mobile)
    return None


def postal_address_of(notification: Notification, household: Household) -> tuple[str, ...]:
    if notification.channel != "letter":
        return ()
    if household.mail_address_lines:
        return (household.full_name, *household.mail_address_lines)
    if household.evicted or not household.address_lines:
        return ()
    return (household.full_name, *household.address_lines)


Sessions = async_sessionmaker[AsyncSession]
CommitPoint = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed notification at its channel, and when the channel answered."""

    hand_over: HandOver | None
    at: datetime
    problem: str | None = None  # "cancel": the household is unknown or erased
    template_version: str | None = None  # of the message rendered for it
    # What the message was rendered and addressed with: the household's language and address as case-api gave
    # them at send time (a resend, or a household completed after the moment fired, may differ from the row's).
    language: str | None = None
    address_kind: str | None = None


@dataclass(frozen=True)
class Dispatcher:
    sessions: Sessions
    channels: dict[str, Channel]
    contacts: ContactLookup
    sender: Sender
    policy: Policy
    quiet: QuietHours
    # A notification left `sending` this long by a stopped dispatcher is looked at again; an SMS waits longer,
    # for the provider's report that settles whether the provider had it.
    sending_lease: timedelta = timedelta(minutes=5)  # NOTIFIER_SENDING_LEASE_SECONDS; longer than hand_over_timeout
    report_window: timedelta = timedelta(minutes=15)
    # Moments fired and notifications handed over per round (NOTIFIER_DISPATCH_BATCH_SIZE).
    batch_size: int = 100
    # The time a channel took a message (its sent_at); without a clock, the round's `now`.
    clock: Callable[[], datetime] | None = None
    # Hand-overs (and household reads from case-api) of one round waiting on their channel at the same time.
    concurrency: int = 8
    # A hand-over (household read, rendering, the channel's waits) not ended after this many seconds ends as a
    # temporary failure, so one stuck network wait never holds up the round; longer than all of its own timeouts.
    hand_over_timeout: float = 120.0

    def _now(self, now: datetime) -> datetime:
        return self.clock() if self.clock is not None else now

    async def run_once(self, now: datetime) -> Round:
        """Fire due moments, then hand due notifications to their channels."""
        started = time.monotonic()
        log.debug("dispatch round at %s starts", now.isoformat())
        async with self.sessions() as session, session.begin():
            fired = await fire_due_moments(
                session,
                contacts=self.contacts,
                now=now,
                quiet=self.quiet,
                policy=self.policy,
                limit=self.batch_size,
                concurrency=self.concurrency,
            )
        done = await self.dispatch_due(now)
        log.debug(
            "dispatch round at %s ends after %.2f s: %d moments fired, %d handed over, %d failed, %d deferred",
            now.isoformat(),
            time.monotonic() - started,
            fired,
            done.handed,
            done.failed,
            done.deferred,
        )
        return done

    async def dispatch_due(self, now: datetime) -> Round:
        done = Round()
        claimed = await self._claim(now, done)
        if not claimed:
            return done
        outcomes = await self._hand_over_all(claimed, now)
        async with self.sessions() as session, session.begin():
            repository = NotificationRepository(session)
            current_of = await repository.get_many([n.id for n in claimed], for_update=True)
            rows = lifecycle.Rows()
            for notification in claimed:
                outcome, current = outcomes[notification.id], current_of.get(notification.id)
                if current is None:
                    continue
                hand_over, at = outcome.hand_over, outcome.at
                if outcome.template_version is not None:
                    current.template_version = outcome.template_version
                if outcome.language is not None:
                    current.language = outcome.language
                if outcome.address_kind is not None:
                    current.address_kind = outcome.address_kind
                if outcome.problem == "cancel":
                    lifecycle.mark_cancelled(
                        current, reason="the household is unknown or erased", session=session, now=at, rows=rows
                    )
                elif hand_over is not None and hand_over.accepted:
                    if current.status is Status.sending:  # not already settled at the channel's commit point
                        lifecycle.mark_sent(
                            session,
                            self.policy,
                            current,
                            provider_reference=hand_over.provider_reference,
                            now=at,
                            rows=rows,
                        )
                    done.handed += 1
                    done.notifications.append(notification.id)
                else:
                    permanent = hand_over.permanent if hand_over is not None else True
                    reason = (hand_over.reason if hand_over is not None else outcome.problem) or "failed"
                    await lifecycle.mark_failed(
                        session, self.policy, current, permanent=permanent, reason_code=reason, now=at, rows=rows
                    )
                    done.failed += 1
            await rows.write(session)
        return done

    async def _hand_over_all(self, claimed: list[Notification], now: datetime) -> dict[str, Outcome]:
        """Hand the claimed notifications over, up to `concurrency` at a time (in the order claimed), each case's
        household read once. A failure other than a channel's (a bug) stops the round: what was claimed stays
        `sending` until the lease runs out."""
        reads = HouseholdReads(self.contacts, self.concurrency)
        outcomes: dict[str, Outcome] = {}
        queue = iter(claimed)
        committed: set[str] = set()  # recorded as sent at their channel's commit point

        async def hand_over_next() -> None:
            for notification in queue:  # shared by the workers: each takes the next notification
                outcomes[notification.id] = await self._bounded_hand_over(notification, reads, now, committed)

        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(min(self.concurrency, len(claimed))):
                    workers.create_task(hand_over_next())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # as a round handing over one at a time would have raised it
        finally:
            reads.close()
        return outcomes

    async def _claim(self, now: datetime, done: Round) -> list[Notification]:
        """Mark a batch of due notifications `sending` and commit, before anything leaves the building."""
        stale_before = now - self.sending_lease
        async with self.sessions() as session, session.begin():
            claimed = []
            for notification in await NotificationRepository(session).claim_due(
                now, stale_before=stale_before, limit=self.batch_size
            ):
                if notification.status is Status.sending:
                    channel = self.channels.get(notification.channel)
                    awaits_report = bool(getattr(channel, "awaits_report", False))
                    since = notification.sending_since or now
                    if awaits_report and since > now - self.report_window:
                        continue  # the provider's report may still settle it
                    log.warning(
                        "notification %s was left sending since %s by a stopped dispatcher: handing it over again",
                        notification.id,
                        since.isoformat(),
                    )
                    notification.attempts -= 1  # the same attempt, resumed
                elif notification.channel == "sms" and self.quiet.contains(now):
                    notification.due_at = self.quiet.not_before(now)
                    done.deferred += 1
                    continue
                lifecycle.mark_sending(notification, now=now)
                claimed.append(notification)
        return claimed

    async def _bounded_hand_over(
        self, notification: Notification, reads: HouseholdReads, now: datetime, committed: set[str]
    ) -> Outcome:
        """`_hand_over` within `hand_over_timeout`: one still waiting then ends as a temporary failure (tried again
        after the backoff) and the round goes on; one already recorded as sent at its commit point stays sent (its
        end of data may have reached the relay: handing it over again could send it twice, docs/adr/0009).
        A hand-over that took longer than its channel's own timeout is logged."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.hand_over_timeout):
                outcome = await self._hand_over(notification, reads, now, committed)
        except TimeoutError:
            if notification.id in committed:
                log.warning(
                    "hand-over of notification %s (%s) did not end within %s s after its commit point: "
                    "it stays sent without the relay's answer",
                    notification.id,
                    notification.channel,
                    self.hand_over_timeout,
                )
                outcome = Outcome(HandOver(accepted=True), self._now(now))
            else:
                log.warning(
                    "hand-over of notification %s (%s) did not end within %s s: ended as a temporary failure",
                    notification.id,
                    notification.channel,
                    self.hand_over_timeout,
                )
                outcome = Outcome(HandOver(accepted=False, reason="hand_over_timeout"), self._now(now))
        took = time.monotonic() - started
        limit = getattr(self.channels.get(notification.channel), "timeout_seconds", None)
        if isinstance(limit, int | float) and took > limit:
            log.warning(
                "hand-over of notification %s (%s) took %.1f s, longer than the channel's timeout of %s s",
                notification.id,
                notification.channel,
                took,
                limit,
            )
        return outcome

    async def _hand_over(
        self, notification: Notification, reads: HouseholdReads, now: datetime, committed: set[str] | None = None
    ) -> Outcome:
        channel = self.channels.get(notification.channel)
        if channel is None:
            return Outcome(HandOver(accepted=False, permanent=True, reason="channel_not_configured"), self._now(now))
        if notification.channel == TASK:
            subject, body = task_message(notification)
            message = self._message(notification, subject=subject, body=body, now=now)
            return Outcome(await channel.send(message), self._now(now))
        try:
            household = await reads.get(notification.case_id)
        except Exception as error:
            log.warning("household of case %s not readable now (%s)", notification.case_id, error)
            return Outcome(HandOver(accepted=False, permanent=False, reason="contacts_unavailable"), self._now(now))
        if household is None:
            return Outcome(None, self._now(now), problem="cancel")
        # The household's language at send time chooses the template (R: every household in its language), as
        # its addresses at send time choose where the message goes.
        language = language_for(notification.moment, notification.channel, household)
        address_kind, _ = address_for(notification.channel, household)
        try:
            rendered = render_notification(notification, household=household, sender=self.sender, language=language)
        except Exception as error:  # a fact the template needs is missing: fall back rather than send half a text
            log.warning("notification %s cannot be rendered: %s", notification.id, error)
            return Outcome(HandOver(accepted=False, permanent=True, reason="template_fact_missing"), self._now(now))
        recipient = recipient_of(notification, household)
        postal = postal_address_of(notification, household)
        version = rendered.version
        if (notification.channel in {"email", "sms"} and not recipient) or (
            notification.channel == "letter" and not postal
        ):
            return Outcome(HandOver(accepted=False, permanent=True, reason="no_address"), self._now(now))
        message = self._message(
            notification,
            subject=rendered.subject,
            body=rendered.body,
            now=now,
            recipient=recipient,
            postal=postal,
            template_version=version,
            language=language,
        )
        send_with_commit = getattr(channel, "send_with_commit_point", None)
        try:
            if send_with_commit is not None:
                commit_point = self._commit_point(notification.id, now, version, language, address_kind, committed)
                result: HandOver = await send_with_commit(message, commit_point)
            else:
                result = await channel.send(message)
        except Exception as error:
            log.exception("channel %s failed on notification %s", notification.channel, notification.id)
            reason = f"channel_error_{type(error).__name__}"
            failed = HandOver(accepted=False, permanent=False, reason=reason)
            return Outcome(failed, self._now(now), None, version, language, address_kind)
        return Outcome(result, self._now(now), None, version, language, address_kind)

    def _message(
        self,
        notification: Notification,
        *,
        subject: str,
        body: str,
        now: datetime,
        recipient: str | None = None,
        postal: tuple[str, ...] = (),
        template_version: str = "",
        language: str | None = None,
    ) -> OutgoingMessage:
        return OutgoingMessage(
            notification_id=notification.id,
            case_id=notification.case_id,
            moment=notification.moment.value,
            channel=notification.channel,
            language=language or notification.language,
            subject=subject,
            body=body,
            recipient=recipient,
            template_version=template_version,
            reference=reference_of(notification.case_id),
            postal_address=postal,
            written_on=now.date(),
            task_kind=str(notification.facts.get("task_kind", "")) or None,
        )

    def _commit_point(
        self,
        notification_id: str,
        now: datetime,
        template_version: str,
        language: str,
        address_kind: str | None,
        committed: set[str] | None = None,
    ) -> CommitPoint:
        """For channels that can hold the last step of a hand-over (SMTP's final dot): record the notification
        as sent and commit before that step, so a stop in between can lose at most the hand-over of a message
        recorded as sent, never send it twice (docs/adr/0009). `committed` collects the notifications whose
        commit went through."""

        async def commit() -> None:
            at = self._now(now)
            async with self.sessions() as session, session.begin():
                current = await NotificationRepository(session).get(notification_id, for_update=True)
                if current is not None and current.status is Status.sending:
                    current.template_version = template_version
                    current.language, current.address_kind = language, address_kind or current.address_kind
                    lifecycle.mark_sent(session, self.policy, current, provider_reference=None, now=at)
            if committed is not None:
                committed.add(notification_id)

        return commit


# ---------------------------------------------------------------------------------------------- resend


async def resend(
    session: AsyncSession,
    *,
    original: Notification,
    reason: str,
    principal: Principal,
    now: datetime,
    policy: Policy,
) -> Notification:
    """A caseworker asks for a message again: a new notification of the same moment and channel, with the
    reason and who asked recorded (the original stays as it was)."""
    new_id = str(uuid.uuid4())
    notification = Notification(
        id=new_id,
        case_id=original.case_id,
        moment=original.moment,
        occasion=f"resend:{new_id}",
        channel=original.channel,
        language=original.language,
        status=Status.requested,
        attempts=0,
        caused_by_event=original.caused_by_event,
        due_at=now,
        address_kind=original.address_kind,
        facts=dict(original.facts),
        resend_of=original.id,
        requested_by=principal.subject,
        reason=f"resend: {reason}"[:200],
        created_at=now,
    )
    lifecycle.mark_requested(session, policy, notification, now=now)
    return notification


def is_waiting(notification: Notification) -> bool:
    return notification.status in WAITING
