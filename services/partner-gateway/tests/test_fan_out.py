"""Fanning a case event out: one pending, minimised delivery per active subscription that wants it and whose
partner kind may see it; a redelivered event fans out once (the consumer's ledger, real Kafka)."""

import json
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from eviction_schemas.envelope import CloudEvent
from partner_gateway.deliveries.minimisation import minimise
from partner_gateway.deliveries.models import DeliveryStatus
from partner_gateway.deliveries.service import fan_out
from partner_gateway.partners.models import PartnerKind, Subscription
from service_kit.clock import SystemClock

pytestmark = pytest.mark.postgres


async def test_fan_out_makes_one_pending_delivery_per_subscription_that_wants_and_may_see_the_event(
    partners: Any, sessions: Any, clock: Any, new_case_opened: Any
) -> None:
    corporation, corporation_hook = await partners.partner(PartnerKind.housing_corporation, event_types=["case.opened"])
    await partners.raw_subscription(corporation, ["case.closed"])
    bailiff, bailiff_hook = await partners.partner(PartnerKind.bailiff, event_types=["case.opened"])
    second_bailiff_hook = await partners.subscribe(bailiff, ["case.opened"], "http://127.0.0.1:9/other")
    # Subscribed to something else only (stored by hand: the registry refuses what the kind may not receive).
    utility, _ = await partners.partner(PartnerKind.utility)
    await partners.raw_subscription(utility, ["case.closed"])
    # Subscribed, but its kind may never receive a case.opened (client_support: referrals with consent only).
    client_support, _ = await partners.partner(PartnerKind.client_support)
    await partners.raw_subscription(client_support, ["case.opened"])
    # Subscribed, but the subscription is switched off.
    _, switched_off = await partners.partner(PartnerKind.housing_corporation, event_types=["case.opened"])
    async with sessions() as session, session.begin():
        await session.execute(update(Subscription).where(Subscription.id == switched_off.id).values(active=False))

    event = new_case_opened(sequence=4)
    # Each partner's message about the case linked it (a case not linked to a corporation, bailiff or utility
    # reaches none of them: test_isolation).
    for partner in (corporation, bailiff, utility, client_support):
        await partners.map_case(partner, event.subject)
    await partners.map_case(switched_off.partner_id, event.subject)
    async with sessions() as session, session.begin():
        made = await fan_out(session, event=event, clock=clock)
    assert len(made) == 3

    deliveries = await partners.deliveries()
    assert sorted((d.partner_id, d.subscription_id) for d in deliveries) == sorted(
        [
            (corporation.id, corporation_hook.id),
            (bailiff.id, bailiff_hook.id),
            (bailiff.id, second_bailiff_hook.id),
        ]
    )
    kinds = {corporation.id: PartnerKind.housing_corporation, bailiff.id: PartnerKind.bailiff}
    for delivery in deliveries:
        assert delivery.status == DeliveryStatus.pending
        assert delivery.attempts == 0
        assert delivery.next_attempt_at == clock.now()
        assert (delivery.case_id, delivery.event_id, delivery.sequence) == (event.subject, event.id, 4)
        assert delivery.event_type == "nl.eviction-prevention.case.opened"
        assert delivery.id.startswith("msg_")
        payload = json.loads(delivery.payload)
        assert payload == minimise(kinds[delivery.partner_id], event)
    fields = {delivery.partner_id: set(json.loads(delivery.payload)["data"]) for delivery in deliveries}
    assert fields == {corporation.id: {"case_id", "has_minors"}, bailiff.id: {"case_id", "children_present"}}
    assert len({d.id for d in deliveries}) == 3


async def test_an_event_type_a_partner_did_not_subscribe_to_makes_no_delivery_though_its_kind_may_see_it(
    partners: Any, sessions: Any, clock: Any, new_case_opened: Any
) -> None:
    corporation, _ = await partners.partner(PartnerKind.housing_corporation)
    await partners.raw_subscription(corporation, ["case.closed", "signal.received"])
    event = new_case_opened()
    await partners.map_case(corporation, event.subject)
    async with sessions() as session, session.begin():
        made = await fan_out(session, event=event, clock=clock)
    assert made == []
    assert await partners.deliveries() == []


@pytest.mark.kafka
async def test_a_redelivered_event_fans_out_once(
    partners: Any, make_consumer: Any, bus: Any, new_case_opened: Any, stream: Any
) -> None:
    corporation, subscription = await partners.partner(PartnerKind.housing_corporation, event_types=["case.opened"])
    clock = SystemClock()

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await fan_out(session, event=event, clock=clock)

    event = new_case_opened()
    await partners.map_case(corporation, event.subject)
    consumer = make_consumer(handle)
    async with consumer.running():
        await consumer.processed(await bus.publish(event))
        await consumer.processed(await bus.publish(event))  # the relay published it twice

    [delivery] = await partners.deliveries()
    assert (delivery.subscription_id, delivery.event_id) == (subscription.id, event.id)
    assert await partners.processed() == [(event.source, event.id, stream.group)]
