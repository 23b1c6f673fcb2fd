"""Reading the processing log (R17): for admins only, who answer for the log to the data protection officer."""

from case_api.audit.repository import ProcessingLogRepository
from case_api.audit.schemas import ProcessingLogPage, ProcessingLogRead
from case_api.context import Context


async def read_processing_log(ctx: Context, *, case_id: str | None, after: int, limit: int) -> ProcessingLogPage:
    rows = await ProcessingLogRepository(ctx.session).page(case_id=case_id, after=after, limit=limit + 1)
    items = [ProcessingLogRead.model_validate(row) for row in rows[:limit]]
    return ProcessingLogPage(items=items, next_after=items[-1].id if len(rows) > limit else None)
