"""The partner registry's admin endpoints."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from partner_gateway.db import get_session
from partner_gateway.partners import service
from partner_gateway.partners.schemas import PartnerCreate, PartnerRead, SubscriptionCreate, SubscriptionRead

router = APIRouter(prefix="/v1/partners", tags=["partner registry"])

# scope="function": the transaction commits before the answer is sent, so a failed commit is never a 201.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PartnerRead)
async def register_partner(body: PartnerCreate, request: Request, session: Session) -> PartnerRead:
    """Register a partner organisation."""
    partner = await service.register_partner(session, request=body, clock=request.app.state.clock)
    return PartnerRead.model_validate(partner)


@router.post("/{partner_id}/subscriptions", status_code=status.HTTP_201_CREATED, response_model=SubscriptionRead)
async def subscribe(partner_id: str, body: SubscriptionCreate, request: Request, session: Session) -> SubscriptionRead:
    """Subscribe a partner's callback URL to event types."""
    subscription = await service.subscribe(session, partner_id=partner_id, request=body, clock=request.app.state.clock)
    return SubscriptionRead.model_validate(subscription)
