"""Retention (R18): the personal data of a case closed longer than `retention_closed_case_days` ago is erased;
a case closed as not picked up (a signal that never became real work) after `retention_signal_only_days`.

The case row stays with what statistics need (stage, outcome, priority, flags, dates), and so do its events
(they never held anything personal); the statistics facts are stored first with their number of minors, since
the birth dates go. Each erasure is written in the processing log as operation=erase, naming the case only.
"""

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, or_, select, update

from case_api.audit.models import Operation
from case_api.belongings.models import StoredBelongings
from case_api.cases.models import Case, OutcomeCode
from case_api.children.models import ChildRightsAssessment
from case_api.contacts.models import ContactAttempt
from case_api.context import Context
from case_api.households.models import Household, Member
from case_api.housing.models import TemporaryHousingDecision
from case_api.idempotency.models import IdempotencyRecord
from case_api.idempotency.service import forget_expired
from case_api.legal.models import EvictionDateChange
from case_api.oco.models import OcoConsent
from case_api.partner_requests.models import ContactPerson, PostponementRequest, SecondChanceRequest
from case_api.signals.models import Signal
from case_api.statistics.service import snapshot_facts
from case_api.support.models import SupportTrajectory
from case_api.tasks.models import Task
from service_kit.auth import Principal

RETENTION = "retention"  # the processing activity of erasing personal data (R17, R18)
RETENTION_PRINCIPAL = Principal(subject="system:retention", roles=frozenset())
NOT_PICKED_UP = (
    OutcomeCode.not_picked_up_repeat_signal,
    OutcomeCode.not_picked_up_unjustified_signal,
    OutcomeCode.not_picked_up_other_reason,
)
BATCH = 200


async def due_case_ids(ctx: Context, *, limit: int = BATCH) -> Sequence[str]:
    now = ctx.clock.now()
    closed_before = now - timedelta(days=ctx.settings.retention_closed_case_days)
    signal_only_before = now - timedelta(days=ctx.settings.retention_signal_only_days)
    query = (
        select(Case.id)
        .where(
            Case.erased_at.is_(None),
            Case.closed_at.is_not(None),
            or_(
                Case.closed_at < closed_before,
                Case.outcome_code.in_(NOT_PICKED_UP) & (Case.closed_at < signal_only_before),
            ),
        )
        .order_by(Case.closed_at, Case.id)
        .limit(limit)
    )
    return (await ctx.session.scalars(query)).all()


async def erase_cases(ctx: Context, case_ids: Sequence[str]) -> None:
    """Erase the personal data of `case_ids` in the caller's transaction; the caller decided they are due."""
    if not case_ids:
        return
    now = ctx.clock.now()
    await snapshot_facts(ctx, case_ids)
    await ctx.session.flush()
    households = select(Case.household_id).where(Case.id.in_(case_ids)).scalar_subquery()
    session = ctx.session
    await session.execute(
        update(Household)
        .where(Household.id.in_(households))
        .values(
            street="",
            house_number="",
            house_number_suffix="",
            postcode="",
            city="",
            address_key="",
            mail_address=None,
            email=None,
            mobile=None,
            bsn_token=None,
            bsn_index=None,
            erased_at=now,
        )
    )
    await session.execute(
        update(Member)
        .where(Member.household_id.in_(households))
        .values(initials="", given_name="", surname_prefix="", surname="", birth_date=None)
    )
    by_case = Signal.case_id.in_(case_ids)
    await session.execute(
        update(Signal)
        .where(by_case)
        .values(arrears_amount=None, partner_reference=None, not_picked_up_reason=None, address_key="")
    )
    await session.execute(update(ContactAttempt).where(ContactAttempt.case_id.in_(case_ids)).values(note=None))
    await session.execute(
        update(ChildRightsAssessment)
        .where(ChildRightsAssessment.case_id.in_(case_ids))
        .values(children_situation="", how_heard=None, sleeping_place_after_eviction=None)
    )
    await session.execute(
        update(TemporaryHousingDecision)
        .where(TemporaryHousingDecision.case_id.in_(case_ids))
        .values(override_reason=None, refusal_reason=None)
    )
    await session.execute(update(StoredBelongings).where(StoredBelongings.case_id.in_(case_ids)).values(note=None))
    await session.execute(update(OcoConsent).where(OcoConsent.case_id.in_(case_ids)).values(given_by=""))
    await session.execute(update(EvictionDateChange).where(EvictionDateChange.case_id.in_(case_ids)).values(note=None))
    await session.execute(
        update(SupportTrajectory).where(SupportTrajectory.case_id.in_(case_ids)).values(end_reason=None)
    )
    await session.execute(update(Task).where(Task.case_id.in_(case_ids)).values(reason=None))
    for request in (PostponementRequest, SecondChanceRequest):
        await session.execute(update(request).where(request.case_id.in_(case_ids)).values(note=None))
    await session.execute(delete(ContactPerson).where(ContactPerson.case_id.in_(case_ids)))
    # Stored answers of idempotent writes about the case (encrypted, yet personal data all the same).
    await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.case_id.in_(case_ids)))
    await session.execute(update(Case).where(Case.id.in_(case_ids)).values(erased_at=now, updated_at=now))
    for case_id in case_ids:
        ctx.log_processing(activity=RETENTION, case_id=case_id, operation=Operation.erase)


async def erase_due(ctx: Context, *, limit: int = BATCH) -> int:
    """Erase one batch of cases whose retention period ended; returns how many (call again until 0)."""
    case_ids = await due_case_ids(ctx, limit=limit)
    await erase_cases(ctx, case_ids)
    return len(case_ids)


async def forget_idempotency_answers(ctx: Context) -> int:
    """Stored answers to Idempotency-Key writes may hold personal data: kept for `idempotency_key_hours`."""
    kept = timedelta(hours=ctx.settings.idempotency_key_hours)
    return await forget_expired(ctx.session, now=ctx.clock.now(), kept=kept)
