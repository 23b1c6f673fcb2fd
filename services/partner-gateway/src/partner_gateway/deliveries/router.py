"""The delivery log and replay (role admin)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from partner_gateway.db import SessionDep as Session
from partner_gateway.deliveries import service
from partner_gateway.deliveries.models import DeliveryStatus
from partner_gateway.deliveries.schemas import DeliveryAttemptList, DeliveryAttemptRead, DeliveryList, DeliveryRead
from service_kit.auth import Role, require_roles
from service_kit.paging import MAX_OFFSET

router = APIRouter(
    prefix="/v1/partners/{partner_id}/deliveries",
    tags=["delivery log"],
    dependencies=[Depends(require_roles(Role.admin))],
)


@router.get("", response_model=DeliveryList)
async def list_deliveries(
    partner_id: str,
    session: Session,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> DeliveryList:
    """A partner's deliveries, newest first; filter by status."""
    items, total = await service.list_deliveries(
        session, partner_id=partner_id, status=status, limit=limit, offset=offset
    )
    return DeliveryList(items=[DeliveryRead.model_validate(d) for d in items], total=total, limit=limit, offset=offset)


@router.get("/{delivery_id}", response_model=DeliveryRead)
async def get_delivery(partner_id: str, delivery_id: str, session: Session) -> DeliveryRead:
    """One delivery of a partner."""
    return DeliveryRead.model_validate(
        await service.get_delivery(session, partner_id=partner_id, delivery_id=delivery_id)
    )


@router.get("/{delivery_id}/attempts", response_model=DeliveryAttemptList)
async def list_attempts(partner_id: str, delivery_id: str, session: Session) -> DeliveryAttemptList:
    """Every attempt of a delivery: when, the answer's status or the error, how long it took."""
    attempts = await service.list_attempts(session, partner_id=partner_id, delivery_id=delivery_id)
    return DeliveryAttemptList(items=[DeliveryAttemptRead.model_validate(a) for a in attempts])


@router.post("/{delivery_id}/replay", response_model=DeliveryRead)
async def replay(partner_id: str, delivery_id: str, request: Request, session: Session) -> DeliveryRead:
    """Send a delivered or given-up delivery again, with the same webhook-id."""
    delivery = await service.replay(
        session, partner_id=partner_id, delivery_id=delivery_id, clock=request.app.state.clock
    )
    return DeliveryRead.model_validate(delivery)
