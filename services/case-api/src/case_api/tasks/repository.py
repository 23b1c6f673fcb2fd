"""Every query of the tasks domain, and the facts of a case that the deadline rules look at."""

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.belongings.models import BelongingsStatus, StoredBelongings
from case_api.cases.models import Case
from case_api.children.models import ChildRightsAssessment
from case_api.deadlines.calendar import WorkingDayCalendar
from case_api.deadlines.rules import BelongingsFacts, CaseFacts
from case_api.legal.models import EvictionChange, EvictionDateChange, LegalStep
from case_api.partner_requests.repository import PartnerRequestRepository
from case_api.signals.models import Signal
from case_api.support.models import SupportTrajectory
from case_api.tasks.models import Task, TaskStatus


class TaskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, task: Task) -> None:
        self._session.add(task)

    async def get(self, task_id: str) -> Task | None:
        return await self._session.get(Task, task_id)

    async def for_purpose(self, case_id: str, purpose: str) -> Task | None:
        """The case's task for `purpose` (unique per case)."""
        query = select(Task).where(Task.case_id == case_id, Task.purpose == purpose)
        return (await self._session.scalars(query)).one_or_none()

    async def of_case(self, case_id: str) -> Sequence[Task]:
        query = select(Task).where(Task.case_id == case_id).order_by(Task.due_date, Task.purpose)
        return (await self._session.scalars(query)).all()

    async def page(
        self,
        *,
        team: str | None,
        status: TaskStatus | None,
        overdue_on: date | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[Task], int]:
        """Tasks of one team (None: every team); `overdue_on`: only open tasks due before that date."""
        query: Select[Task] = select(Task).join(Case, Case.id == Task.case_id)
        if team is not None:
            query = query.where(Case.team == team)
        if status is not None:
            query = query.where(Task.status == status)
        if overdue_on is not None:
            query = query.where(Task.status == TaskStatus.open, Task.due_date < overdue_on)
        total = await self._session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self._session.scalars(query.order_by(Task.due_date, Task.id).limit(limit).offset(offset))
        return rows.all(), int(total or 0)

    async def facts(self, case: Case, calendar: WorkingDayCalendar) -> CaseFacts:
        """What the deadline rules need to know of `case`, as local dates."""
        session = self._session
        # R5: when the municipality learned of a threat: a legal step or an eviction date recorded, a crisis signal.
        learned = [
            calendar.local_date(at)
            for at in (
                await session.scalar(select(func.min(LegalStep.recorded_at)).where(LegalStep.case_id == case.id)),
                await session.scalar(
                    select(func.min(EvictionDateChange.recorded_at)).where(
                        EvictionDateChange.case_id == case.id, EvictionDateChange.change == EvictionChange.scheduled
                    )
                ),
            )
            if at is not None
        ]
        crisis_on = await session.scalar(
            select(func.min(Signal.signal_date)).where(Signal.case_id == case.id, Signal.crisis.is_(True))
        )
        threatened = [*learned, *([crisis_on] if crisis_on else [])]
        support_started = bool(await session.scalar(select(exists().where(SupportTrajectory.case_id == case.id))))
        assessed = bool(
            await session.scalar(
                select(
                    exists().where(ChildRightsAssessment.case_id == case.id, ChildRightsAssessment.completed.is_(True))
                )
            )
        )
        postponement_requested = case.eviction_date is not None and await PartnerRequestRepository(
            session
        ).corporation_asked_to_postpone(case.id, case.eviction_date)
        belongings = (
            await session.scalars(
                select(StoredBelongings).where(StoredBelongings.case_id == case.id).order_by(StoredBelongings.id)
            )
        ).all()
        return CaseFacts(
            stage=case.stage,
            has_minors=case.has_minors,
            first_signal_on=case.first_signal_on,
            first_contact_on=calendar.local_date(case.first_contact_at) if case.first_contact_at else None,
            threatened_on=min(threatened, default=None),
            support_started=support_started,
            eviction_date=case.eviction_date,
            child_assessment_completed=assessed,
            postponement_requested=postponement_requested,
            belongings=tuple(
                BelongingsFacts(
                    belongings_id=stored.id,
                    retention_ends_on=stored.retention_ends_on,
                    settled=stored.status is not BelongingsStatus.stored,
                )
                for stored in belongings
            ),
        )
