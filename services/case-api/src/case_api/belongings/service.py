"""Household goods (R14): stored at the landlord's expense after an executed eviction, reclaimable by the
owner, and sold or destroyed only after the retention period (13 weeks by default) ends unclaimed."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from case_api.audit.models import Operation
from case_api.belongings.models import BelongingsStatus, StoredBelongings
from case_api.belongings.repository import BelongingsRepository
from case_api.belongings.schemas import BelongingsDispose, BelongingsRead, BelongingsReturn, BelongingsStore
from case_api.cases.models import Case
from case_api.cases.process import Action
from case_api.cases.service import CASE_FILE, load_case, transition
from case_api.config import Settings
from case_api.context import Context
from case_api.events import emit
from service_kit.errors import Conflict, NotFound, Unprocessable


class BelongingsMessage(StrEnum):
    """When R14 tells the household about its stored goods."""

    stored = "stored"  # at storage: where they are, how to reclaim them, the end date
    reminder = "reminder"  # some weeks before the end: the last weeks to reclaim (notifications.md M8)
    retention_ended = "retention_ended"  # at the end: unclaimed goods may now be sold or destroyed


@dataclass(frozen=True)
class BelongingsMessageMoment:
    message: BelongingsMessage
    on: date


def retention_end(stored_on: date, settings: Settings) -> date:
    """R14: the end of the retention period, `belongings_storage_weeks` after storage."""
    return stored_on + timedelta(weeks=settings.belongings_storage_weeks)


def message_moments(*, stored_on: date, retention_ends_on: date, settings: Settings) -> list[BelongingsMessageMoment]:
    """R14: the household is told at storage, some weeks before the end (3 by default), and at the end."""
    reminder_on = retention_ends_on - timedelta(weeks=settings.belongings_reminder_weeks_before_end)
    moments = [BelongingsMessageMoment(BelongingsMessage.stored, stored_on)]
    if reminder_on > stored_on:  # a retention period shorter than the reminder lead has no separate reminder
        moments.append(BelongingsMessageMoment(BelongingsMessage.reminder, reminder_on))
    moments.append(BelongingsMessageMoment(BelongingsMessage.retention_ended, retention_ends_on))
    return moments


async def store_belongings(ctx: Context, *, case_id: str, request: BelongingsStore) -> StoredBelongings:
    """Record goods carried away after the eviction; an evicted case moves to aftercare; belongings.stored."""
    case = await load_case(ctx, case_id, for_update=True)
    transition(ctx, case, Action.store_belongings)
    stored_on = request.stored_on or ctx.today()
    if stored_on > ctx.today():
        raise Unprocessable("goods are recorded once stored; stored_on lies in the future", field="stored_on")
    belongings = StoredBelongings(
        id=str(uuid.uuid4()),
        case_id=case.id,
        storage_place=request.storage_place,
        storage_reference=request.storage_reference,
        inventory_reference=request.inventory_reference,
        stored_on=stored_on,
        retention_ends_on=retention_end(stored_on, ctx.settings),
        costs=request.costs,
        paid_by=request.paid_by,
        status=BelongingsStatus.stored,
        note=request.note,
        recorded_by=ctx.principal.subject,
        recorded_at=ctx.clock.now(),
    )
    BelongingsRepository(ctx.session).add(belongings)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="belongings.stored",
        data={
            "storage_reference": belongings.storage_reference,
            "stored_on": belongings.stored_on.isoformat(),
            "retention_ends_on": belongings.retention_ends_on.isoformat(),
        },
    )
    return belongings


async def _still_stored(ctx: Context, *, case: Case, belongings_id: str) -> StoredBelongings:
    belongings = await BelongingsRepository(ctx.session).get(case_id=case.id, belongings_id=belongings_id)
    if belongings is None:
        raise NotFound(f"no stored belongings {belongings_id} in this case", field="belongings_id")
    if belongings.status is not BelongingsStatus.stored:
        raise Conflict(f"these belongings are already {belongings.status.value}", field="belongings_id")
    return belongings


async def return_belongings(
    ctx: Context, *, case_id: str, belongings_id: str, request: BelongingsReturn
) -> StoredBelongings:
    """The owner reclaimed the goods; publishes belongings.returned."""
    case = await load_case(ctx, case_id, for_update=True)
    belongings = await _still_stored(ctx, case=case, belongings_id=belongings_id)
    returned_on = request.returned_on or ctx.today()
    if returned_on > ctx.today():
        raise Unprocessable(
            "a return is recorded once it happened; returned_on lies in the future", field="returned_on"
        )
    if returned_on < belongings.stored_on:
        raise Unprocessable(
            f"returned_on must not be before the goods were stored ({belongings.stored_on.isoformat()})",
            field="returned_on",
        )
    transition(ctx, case, Action.settle_belongings)
    belongings.status = BelongingsStatus.returned
    belongings.returned_on = returned_on
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="belongings.returned",
        data={"storage_reference": belongings.storage_reference, "returned_on": returned_on.isoformat()},
    )
    return belongings


async def dispose_belongings(
    ctx: Context, *, case_id: str, belongings_id: str, request: BelongingsDispose
) -> StoredBelongings:
    """Unclaimed goods sold or destroyed, never before the retention period ends (R14); belongings.disposed."""
    case = await load_case(ctx, case_id, for_update=True)
    belongings = await _still_stored(ctx, case=case, belongings_id=belongings_id)
    disposed_on = request.disposed_on or ctx.today()
    if disposed_on > ctx.today():
        raise Unprocessable(
            "a disposal is recorded once it happened; disposed_on lies in the future", field="disposed_on"
        )
    if disposed_on < belongings.retention_ends_on:
        raise Conflict(
            f"unclaimed goods may be sold or destroyed from {belongings.retention_ends_on.isoformat()}, "
            f"{ctx.settings.belongings_storage_weeks} weeks after storage (R14); the owner may still reclaim them",
            field="disposed_on",
            rule="R14",
            retention_ends_on=belongings.retention_ends_on.isoformat(),
        )
    transition(ctx, case, Action.settle_belongings)
    belongings.status = BelongingsStatus.disposed
    belongings.disposed_on = disposed_on
    belongings.disposal_method = request.method
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="belongings.disposed",
        data={
            "storage_reference": belongings.storage_reference,
            "disposed_on": disposed_on.isoformat(),
            "method": request.method.value,
        },
    )
    return belongings


async def list_belongings(ctx: Context, *, case_id: str) -> list[BelongingsRead]:
    case = await load_case(ctx, case_id)
    records = await BelongingsRepository(ctx.session).of_case(case.id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return [BelongingsRead.model_validate(record) for record in records]
