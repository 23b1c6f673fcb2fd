"""Registering partners and their subscriptions; never commits."""

import base64
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from partner_gateway.config import Settings
from partner_gateway.deliveries.minimisation import may_receive
from partner_gateway.deliveries.service import disable_subscription
from partner_gateway.partners.models import Partner, Subscription
from partner_gateway.partners.repository import PartnerRepository
from partner_gateway.partners.schemas import PartnerCreate, SecretRotation, SecretsRotated, SubscriptionCreate
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


def new_secret() -> str:
    """A fresh Standard Webhooks secret: 32 random bytes, base64, behind `whsec_`."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def get_partner(session: AsyncSession, partner_id: str) -> Partner:
    partner = await PartnerRepository(session).get(partner_id)
    if partner is None:
        raise NotFound(f"no partner with id {partner_id}", field="partner_id")
    return partner


async def rotate_secrets(
    session: AsyncSession, *, partner_id: str, request: SecretRotation, grace: timedelta, clock: Clock
) -> SecretsRotated:
    """Both secrets rotate: the new ones are current at once, the old ones stay valid for `grace` (inbound:
    accepted; outbound: a second signature on every delivery) so the partner can switch without a gap."""
    partner = await get_partner(session, partner_id)
    inbound = request.inbound_secret or new_secret()
    outbound = request.outbound_secret or new_secret()
    await rotate_inbound_secret(session, partner_id=partner_id, new_secret=inbound, grace=grace, clock=clock)
    valid_until = clock.now() + grace
    partner.previous_outbound_secret = partner.outbound_secret
    partner.previous_outbound_secret_valid_until = valid_until
    partner.outbound_secret = outbound
    return SecretsRotated(
        partner_id=partner.id, inbound_secret=inbound, outbound_secret=outbound, previous_valid_until=valid_until
    )


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
    partner = await repository.get(partner_id)
    assert partner is not None
    if unknown := request.unknown_event_types():
        raise Unprocessable(f"unknown event types: {', '.join(unknown)}", field="event_types")
    if refused := [name for name in request.event_types if not may_receive(partner.kind, name)]:
        # Data minimisation (contract.md): a subscription can never widen what the partner's kind may see.
        raise Unprocessable(f"a {partner.kind.value} may not receive: {', '.join(refused)}", field="event_types")
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


async def list_subscriptions(session: AsyncSession, *, partner_id: str) -> Sequence[Subscription]:
    await get_partner(session, partner_id)
    return await PartnerRepository(session).subscriptions_of(partner_id)


async def deactivate_subscription(
    session: AsyncSession, *, partner_id: str, subscription_id: str, settings: Settings, clock: Clock
) -> Subscription:
    """Switch a subscription off; its pending deliveries are given up (partner.delivery-failed, endpoint_disabled)."""
    subscription = await session.get(Subscription, subscription_id)
    if subscription is None or subscription.partner_id != partner_id:
        raise NotFound(f"partner {partner_id} has no subscription {subscription_id}", field="subscription_id")
    if subscription.active:
        await disable_subscription(session, subscription=subscription, now=clock.now(), settings=settings)
    return subscription
