"""The deadline worker: `python -m case_api.workers.deadlines`. Every interval it brings the tasks of every open
case (and of closed cases that still have open tasks) in line with the deadline rules (deadlines/rules.py):
creates missing tasks, escalates late ones, completes and cancels what no longer applies, with task events.

Cases are handled in batches, one transaction each; on PostgreSQL a batch claims its cases with
FOR UPDATE SKIP LOCKED, so a case that a request is changing is left to the next run, and two workers never
handle one case at once. Running it again the same day changes nothing: tasks are unique per case and purpose,
and an escalation is raised once per level.
"""

import asyncio
import logging

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.cases.models import Case, Stage
from case_api.config import Settings, get_settings
from case_api.context import Context
from case_api.tasks.models import Task, TaskStatus
from case_api.tasks.service import TaskChanges, recompute_tasks
from service_kit.auth import Principal, Role
from service_kit.clock import Clock, SystemClock
from service_kit.db import make_engine, make_session_factory, supports_skip_locked
from service_kit.worker import run_worker, sleep_or_stop

log = logging.getLogger(__name__)

# The processing log (R17) names the worker as the actor of what it changes.
WORKER = Principal(subject="case-api-deadline-worker", roles=frozenset({Role.admin}))


async def run_once(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock, *, batch_size: int | None = None
) -> TaskChanges:
    """One pass over the open cases; what it changed."""
    size = batch_size or settings.deadline_worker_batch_size
    changes = TaskChanges()
    after = ""
    while True:
        async with sessions() as session, session.begin():
            has_open_tasks = select(Task.case_id).where(Task.status == TaskStatus.open)
            query = (
                select(Case)
                .where(or_(Case.stage != Stage.closed, Case.id.in_(has_open_tasks)), Case.id > after)
                .order_by(Case.id)
                .limit(size)
            )
            if supports_skip_locked(session):
                query = query.with_for_update(skip_locked=True, of=Case)
            cases = (await session.scalars(query)).all()
            ctx = Context(session=session, settings=settings, clock=clock, principal=WORKER)
            for case in cases:
                changes += await recompute_tasks(ctx, case=case)
        if len(cases) < size:
            return changes
        after = cases[-1].id


async def loop(stop: asyncio.Event) -> None:
    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    clock = SystemClock()
    try:
        while not stop.is_set():
            try:
                changes = await run_once(sessions, settings, clock)
            except Exception:  # a failed pass is logged and retried at the next interval
                log.exception("deadline pass failed")
            else:
                if changes.any:
                    log.info("deadline pass: %s", changes)
            await sleep_or_stop(stop, settings.deadline_worker_interval_seconds)
    finally:
        await engine.dispose()


def main() -> None:
    run_worker("case-api deadline worker", loop, settings=get_settings())


if __name__ == "__main__":
    main()
