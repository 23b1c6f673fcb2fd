"""REST endpoints for stored belongings (R14): parse, call one service function, return."""

from fastapi import APIRouter, status

from case_api.belongings import service
from case_api.belongings.schemas import (
    BelongingsDispose,
    BelongingsList,
    BelongingsRead,
    BelongingsReturn,
    BelongingsStore,
)
from case_api.deps import CaseContext

router = APIRouter(prefix="/v1/cases/{case_id}/belongings", tags=["belongings"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BelongingsRead)
async def store_belongings(case_id: str, body: BelongingsStore, ctx: CaseContext) -> BelongingsRead:
    """Record goods carried away and stored after the eviction; publishes belongings.stored."""
    return BelongingsRead.model_validate(await service.store_belongings(ctx, case_id=case_id, request=body))


@router.post("/{belongings_id}/return", response_model=BelongingsRead)
async def return_belongings(
    case_id: str, belongings_id: str, body: BelongingsReturn, ctx: CaseContext
) -> BelongingsRead:
    """The owner reclaimed the goods; publishes belongings.returned."""
    return BelongingsRead.model_validate(
        await service.return_belongings(ctx, case_id=case_id, belongings_id=belongings_id, request=body)
    )


@router.post("/{belongings_id}/dispose", response_model=BelongingsRead)
async def dispose_belongings(
    case_id: str, belongings_id: str, body: BelongingsDispose, ctx: CaseContext
) -> BelongingsRead:
    """Unclaimed goods sold or destroyed after the retention period (409 before it); belongings.disposed."""
    return BelongingsRead.model_validate(
        await service.dispose_belongings(ctx, case_id=case_id, belongings_id=belongings_id, request=body)
    )


@router.get("", response_model=BelongingsList)
async def list_belongings(case_id: str, ctx: CaseContext) -> BelongingsList:
    """The case's stored belongings and what became of them."""
    return BelongingsList(items=await service.list_belongings(ctx, case_id=case_id))
