"""Registering partners and their subscriptions; never commits."""

import uuid
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from partner_gateway.partners.models import Partner, Subscription
from partner_gateway.partners.repository import PartnerRepository
from partner_gateway.partners.schemas import PartnerCreate, SubscriptionCreate
from service_kit.clock import Clock
from service_kit.errors import Conflict, NotFound, Unprocessable


async def register_partner(session: AsyncSession, *, request: PartnerCreate, clock: Clock) -> Partner:
    repository = PartnerRepository(session)
    if await repository.get(request.id):
        raise Conflict(f"a partner with id {request.id} is already registered", field="id")
    partner = Partner(
        id=request.id,
        name=request.name,
        kind=request.kind,
        outbound_secret=request.outbound_secret,
        inbound_secret=request.inbound_secret,
        team=request.team,
        created_at=clock.now(),
    )
    repository.add(partner)
    try:
        await session.flush()
    except IntegrityError:
        # Registered by a concurrent request since the check above.
        raise Conflict(f"a partner with id {request.id} is already registered", field="id") from None
    return partner


async def rotate_inbound_secret(
    session: AsyncSession, *, partner_id: str, new_secret: str, grace: timedelta, clock: Clock
) -> Partner:
    """The new secret is current at once; the old one stays valid for `grace` so the partner can switch."""
    partner = await PartnerRepository(session).get(partner_id)
    if partner is None:
        raise NotFound(f"no partner with id {partner_id}", field="partner_id")
    partner.previous_inbound_secret = partner.inbound_secret
    partner.previous_inbound_secret_valid_until = clock.now() + grace if partner.inbound_secret else None
    partner.inbound_secret = new_secret
    return partner


async def subscribe(
    session: AsyncSession, *, partner_id: str, request: SubscriptionCreate, clock: Clock
) -> Subscription:
    repository = PartnerRepository(session)
    if await repository.get(partner_id) is None:
        raise NotFound(f"no partner with id {partner_id}", field="partner_id")
    if unknown := request.unknown_event_types():
        raise Unprocessable(f"unknown event types: {', '.join(unknown)}", field="event_types")
    subscription = Subscription(
        id=str(uuid.uuid4()),
        partner_id=partner_id,
        event_types=request.event_types,
        callback_url=str(request.callback_url),
        active=True,
        created_at=clock.now(),
    )
    repository.add(subscription)
    return subscription
