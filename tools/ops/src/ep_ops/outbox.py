"""`ep-ops backlog`: case-api's outbox rows not yet published to Kafka, and the age of the oldest one."""

from datetime import UTC, datetime

from case_api.config import Settings
from case_api.db import OutboxRecord
from ep_ops.output import Report
from service_kit.db import make_engine, make_session_factory
from service_kit.outbox import outbox_backlog


async def backlog(settings: Settings, *, now: datetime | None = None) -> Report:
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_session_factory(engine)() as session:
            count, oldest = await outbox_backlog(session, OutboxRecord)
    finally:
        await engine.dispose()
    age = max(0.0, ((now or datetime.now(UTC)) - oldest).total_seconds()) if oldest else 0.0
    row = {"unpublished": count, "oldest_created_at": oldest, "oldest_age_seconds": round(age, 1)}
    summary = (
        f"{count} outbox row(s) wait for the relay; the oldest is {age:.0f} s old"
        if count
        else "the outbox is empty: the relay keeps up"
    )
    return Report(columns=list(row), rows=[row], summary=summary)
