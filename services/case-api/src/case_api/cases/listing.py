"""Lists of cases for the municipal front-ends: filters, team scoping, and keyset (cursor) pagination.

Team scoping: a team role (outreach worker, debt counsellor, team lead) lists its own team only; asking for
another team's cases with `team=` answers 403 naming the field, rather than an empty page that looks like "no
cases". Admin and the partner gateway list every team, or one with `team=`. A policy analyst never lists cases
(403 from the CaseContext dependency). Order: newest opened first, ties broken by id, so pages are stable while
cases are added; the cursor is the (opened_at, id) of a page's last case."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import Select, and_, exists, func, or_, select

from case_api.audit.models import Operation
from case_api.cases.models import Case, Priority, Stage
from case_api.cases.schemas import CaseSummary
from case_api.context import Context
from case_api.tasks.models import Task, TaskStatus
from service_kit.errors import Forbidden, InvalidInput

CASE_LIST = "case-list"  # the processing activity of listing cases (R17)
MAX_LIMIT = 100


@dataclass(frozen=True)
class CaseFilter:
    stages: tuple[Stage, ...] = ()
    priorities: tuple[Priority, ...] = ()
    team: str | None = None
    eviction_date_from: date | None = None
    eviction_date_to: date | None = None
    has_minors: bool | None = None
    overdue_tasks: bool | None = None


class CaseList(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    total: int | None = Field(default=None, description="All cases matching the filters, when include_total=true.")


def encode_cursor(case: Case) -> str:
    raw = json.dumps([case.opened_at.isoformat(), case.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        opened_at, case_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(opened_at), str(case_id)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidInput("the cursor is not one this API gave out; start without it", field="cursor") from None


def _scoped_team(ctx: Context, team: str | None) -> str | None:
    """The one team to list, or None for every team (only for roles that see all teams)."""
    principal = ctx.principal
    if principal.sees_all_teams:
        return team
    if team is not None and team != principal.team:
        raise Forbidden(f"you may list the cases of your own team ({principal.team}) only", field="team")
    return principal.team


def _filtered(ctx: Context, query: Select[Case], filters: CaseFilter) -> Select[Case]:
    team = _scoped_team(ctx, filters.team)
    if team is not None:
        query = query.where(Case.team == team)
    if filters.stages:
        query = query.where(Case.stage.in_(filters.stages))
    if filters.priorities:
        query = query.where(Case.priority.in_(filters.priorities))
    if filters.eviction_date_from is not None:
        query = query.where(Case.eviction_date >= filters.eviction_date_from)
    if filters.eviction_date_to is not None:
        query = query.where(Case.eviction_date <= filters.eviction_date_to)
    if filters.has_minors is not None:
        query = query.where(Case.has_minors.is_(filters.has_minors))
    if filters.overdue_tasks is not None:
        # Overdue: an open task whose due date lies before today in Europe/Amsterdam.
        overdue = exists().where(Task.case_id == Case.id, Task.status == TaskStatus.open, Task.due_date < ctx.today())
        query = query.where(overdue if filters.overdue_tasks else ~overdue)
    return query


async def list_cases(
    ctx: Context, *, filters: CaseFilter, limit: int, cursor: str | None = None, include_total: bool = False
) -> CaseList:
    if (
        filters.eviction_date_from
        and filters.eviction_date_to
        and filters.eviction_date_from > filters.eviction_date_to
    ):
        raise InvalidInput("evictionDateFrom lies after evictionDateTo", field="evictionDateFrom")
    limit = max(1, min(limit, MAX_LIMIT))
    query = _filtered(ctx, select(Case), filters)
    total = None
    if include_total:
        total = int(await ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    if cursor is not None:
        opened_at, case_id = decode_cursor(cursor)
        query = query.where(or_(Case.opened_at < opened_at, and_(Case.opened_at == opened_at, Case.id < case_id)))
    rows = list(
        (await ctx.session.scalars(query.order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit + 1))).all()
    )
    page = rows[:limit]
    ctx.log_processing(activity=CASE_LIST, case_id=None, operation=Operation.read)
    return CaseList(
        items=[CaseSummary.model_validate(case) for case in page],
        next_cursor=encode_cursor(page[-1]) if len(rows) > limit else None,
        total=total,
    )
