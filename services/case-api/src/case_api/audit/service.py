"""Reading the processing log (R17): for admins only, who answer for the log to the data protection officer."""

from case_api.audit.repository import ProcessingLogRepository
from case_api.audit.schemas import ProcessingLogPage, ProcessingLogRead
from case_api.context import Context
from service_kit.auth import Role
from service_kit.errors import Forbidden


async def read_processing_log(ctx: Context, *, case_id: str | None, after: int, limit: int) -> ProcessingLogPage:
    if not ctx.principal.has_role(Role.admin):
        raise Forbidden("the processing log is for admins only", required_roles=[Role.admin.value])
    rows = await ProcessingLogRepository(ctx.session).page(case_id=case_id, after=after, limit=limit + 1)
    items = [ProcessingLogRead.model_validate(row) for row in rows[:limit]]
    return ProcessingLogPage(items=items, next_after=items[-1].id if len(rows) > limit else None)
