"""REST endpoints for cases: parse, call one service function, return."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from case_api.cases import service
from case_api.cases.schemas import CaseCreate, CaseRead
from case_api.db import get_session

router = APIRouter(prefix="/v1/cases", tags=["cases"])

Session = Annotated[AsyncSession, Depends(get_session)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CaseRead)
async def open_case(
    body: CaseCreate,
    request: Request,
    session: Session,
    traceparent: Annotated[
        str | None, Header(pattern=r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
    ] = None,
) -> CaseRead:
    """Open a case for a household; publishes case.opened."""
    case = await service.open_case(
        session,
        settings=request.app.state.settings,
        clock=request.app.state.clock,
        request=body,
        traceparent=traceparent,
    )
    return CaseRead.model_validate(case)


@router.get("/{case_id}", response_model=CaseRead)
async def read_case(case_id: str, session: Session) -> CaseRead:
    """One case."""
    return CaseRead.model_validate(await service.get_case(session, case_id=case_id))
