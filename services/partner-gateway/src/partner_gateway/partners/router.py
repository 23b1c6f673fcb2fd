"""The partner registry's admin endpoints (role admin)."""

from datetime import timedelta

from fastapi import APIRouter, Depends, Request, status

from partner_gateway.db import SessionDep as Session
from partner_gateway.partners import service
from partner_gateway.partners.schemas import (
    PartnerCreate,
    PartnerRead,
    SecretRotation,
    SecretsRotated,
    SubscriptionCreate,
    SubscriptionList,
    SubscriptionRead,
)
from service_kit.auth import Role, require_roles

router = APIRouter(prefix="/v1/partners", tags=["partner registry"], dependencies=[Depends(require_roles(Role.admin))])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PartnerRead)
async def register_partner(body: PartnerCreate, request: Request, session: Session) -> PartnerRead:
    """Register a partner organisation."""
    partner = await service.register_partner(session, request=body, clock=request.app.state.clock)
    return PartnerRead.model_validate(partner)


@router.post("/{partner_id}/secrets/rotate", response_model=SecretsRotated)
async def rotate_secrets(
    partner_id: str, request: Request, session: Session, body: SecretRotation | None = None
) -> SecretsRotated:
    """Rotate a partner's inbound and outbound secrets; the old ones stay valid for the grace period."""
    grace = timedelta(hours=request.app.state.settings.secret_rotation_grace_hours)
    return await service.rotate_secrets(
        session, partner_id=partner_id, request=body or SecretRotation(), grace=grace, clock=request.app.state.clock
    )


@router.post("/{partner_id}/subscriptions", status_code=status.HTTP_201_CREATED, response_model=SubscriptionRead)
async def subscribe(partner_id: str, body: SubscriptionCreate, request: Request, session: Session) -> SubscriptionRead:
    """Subscribe a partner's callback URL to event types."""
    subscription = await service.subscribe(session, partner_id=partner_id, request=body, clock=request.app.state.clock)
    return SubscriptionRead.model_validate(subscription)


@router.get("/{partner_id}/subscriptions", response_model=SubscriptionList)
async def list_subscriptions(partner_id: str, session: Session) -> SubscriptionList:
    """A partner's subscriptions, active or not."""
    subscriptions = await service.list_subscriptions(session, partner_id=partner_id)
    return SubscriptionList(items=[SubscriptionRead.model_validate(s) for s in subscriptions])


@router.post("/{partner_id}/subscriptions/{subscription_id}/deactivate", response_model=SubscriptionRead)
async def deactivate_subscription(
    partner_id: str, subscription_id: str, request: Request, session: Session
) -> SubscriptionRead:
    """Switch a subscription off; its pending deliveries are given up."""
    subscription = await service.deactivate_subscription(
        session,
        partner_id=partner_id,
        subscription_id=subscription_id,
        settings=request.app.state.settings,
        clock=request.app.state.clock,
    )
    return SubscriptionRead.model_validate(subscription)
