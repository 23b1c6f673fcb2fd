"""A case's history in time order, built from the events it wrote to the outbox: they carry type, time,
sequence and thin data, and nothing personal, so the timeline survives erasure (R18) unchanged."""

from case_api.audit.models import Operation
from case_api.cases.service import load_case
from case_api.context import Context
from case_api.timeline.repository import TimelineRepository
from case_api.timeline.schemas import TimelineEntry, TimelineRead
from eviction_schemas.envelope import CloudEvent

TIMELINE = "case-timeline"  # the processing activity of reading a case's history (R17)
TYPE_PREFIX = "nl.eviction-prevention."


def entry_of(payload: bytes) -> TimelineEntry:
    event = CloudEvent.from_json_bytes(payload)
    return TimelineEntry(
        sequence=int(event.sequence),
        event=event.type.removeprefix(TYPE_PREFIX),
        type=event.type,
        time=event.time,
        data=dict(event.data or {}),
    )


async def read_timeline(ctx: Context, *, case_id: str, after: int, limit: int) -> TimelineRead:
    case = await load_case(ctx, case_id)
    entries = sorted(
        (entry_of(payload) for payload in await TimelineRepository(ctx.session).payloads_of_case(case.id)),
        key=lambda entry: entry.sequence,
    )
    page = [entry for entry in entries if entry.sequence > after][: limit + 1]
    ctx.log_processing(activity=TIMELINE, case_id=case.id, operation=Operation.read)
    more = len(page) > limit
    items = page[:limit]
    return TimelineRead(case_id=case.id, items=items, next_after=items[-1].sequence if more else None)
