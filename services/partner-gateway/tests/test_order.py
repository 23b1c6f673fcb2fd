"""Deliveries keep the order of a case's events per endpoint, across retries; other cases and other
endpoints are not held up; two delivery workers never take the same delivery."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from devinfra.receiver import WebhookReceiver
from partner_gateway.deliveries.models import Delivery
from partner_gateway.deliveries.service import deliver, due_deliveries, fan_out
from partner_gateway.partners.models import PartnerKind

pytestmark = pytest.mark.postgres


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


async def fan(sessions: Any, clock: Any, *events: Any) -> None:
    for event in events:
        async with sessions() as session, session.begin():
            await fan_out(session, event=event, clock=clock)


async def due(sessions: Any, clock: Any) -> set[tuple[str, str, int]]:
    """(subscription, case, sequence) of what a delivery worker would take now."""
    async with sessions() as session, session.begin():
        taken = await due_deliveries(session, now=clock.now(), limit=100)
        return {(d.subscription_id, d.case_id, d.sequence) for d in taken}


async def send(sessions: Any, clock: Any, subscription_id: str, case_id: str, sequence: int) -> bool:
    async with sessions() as session, session.begin(), httpx.AsyncClient(timeout=5) as http:
        delivery = next(
            d
            for d in await due_deliveries(session, now=clock.now(), limit=100)
            if (d.subscription_id, d.case_id, d.sequence) == (subscription_id, case_id, sequence)
        )
        return await deliver(session, delivery=delivery, http=http, clock=clock)


async def test_a_case_s_second_delivery_waits_for_its_first_even_across_retries_and_holds_up_nobody_else(
    partners: Any, sessions: Any, clock: Any, receiver: WebhookReceiver, new_case_opened: Any
) -> None:
    corporation, hook = await partners.partner(
        PartnerKind.housing_corporation, event_types=["case.opened"], callback_url=receiver.url
    )
    case_a, case_b = new_case_opened(sequence=1), new_case_opened(sequence=7)
    await partners.map_case(corporation, case_a.subject)
    await partners.map_case(corporation, case_b.subject)
    # A second event of case A (case.opened again only because it is the event the kinds may receive).
    case_a_later = new_case_opened(case_a.subject, sequence=2)
    await fan(sessions, clock, case_a, case_a_later, case_b)
    a, b = case_a.subject, case_b.subject

    assert await due(sessions, clock) == {(hook.id, a, 1), (hook.id, b, 7)}

    # The first of case A fails: it waits for its retry, and its successor waits with it, though due itself.
    receiver.status = 503
    assert not await send(sessions, clock, hook.id, a, 1)
    assert await due(sessions, clock) == {(hook.id, b, 7)}
    receiver.status = 200
    assert await send(sessions, clock, hook.id, b, 7)
    assert await due(sessions, clock) == set()

    clock.advance(timedelta(seconds=5))
    assert await due(sessions, clock) == {(hook.id, a, 1)}
    assert await send(sessions, clock, hook.id, a, 1)
    assert await due(sessions, clock) == {(hook.id, a, 2)}
    assert await send(sessions, clock, hook.id, a, 2)

    async with sessions() as session:
        sequence_of = {d.id: (d.case_id, d.sequence) for d in (await session.scalars(select(Delivery))).all()}
    assert [sequence_of[r.headers["webhook-id"]] for r in receiver.received] == [(b, 7), (a, 1), (a, 2)]


async def test_a_case_pending_at_one_endpoint_does_not_hold_up_the_same_case_at_another(
    partners: Any, sessions: Any, clock: Any, new_case_opened: Any
) -> None:
    corporation, first_hook = await partners.partner(PartnerKind.housing_corporation, event_types=["case.opened"])
    first = new_case_opened(sequence=1)
    await partners.map_case(corporation, first.subject)
    await fan(sessions, clock, first)
    # The second endpoint subscribes between the case's two events: it only gets the second.
    second_hook = await partners.subscribe(corporation, ["case.opened"], "http://127.0.0.1:9/second")
    await fan(sessions, clock, new_case_opened(first.subject, sequence=2))

    assert await due(sessions, clock) == {(first_hook.id, first.subject, 1), (second_hook.id, first.subject, 2)}


async def test_two_delivery_workers_at_once_never_take_the_same_delivery(
    partners: Any, sessions: Any, clock: Any, new_case_opened: Any
) -> None:
    bailiff, _ = await partners.partner(PartnerKind.bailiff, event_types=["case.opened"])
    events = [new_case_opened() for _ in range(10)]
    for event in events:
        await partners.map_case(bailiff, event.subject)
    await fan(sessions, clock, *events)

    async with sessions() as first, first.begin():
        taken_by_first = {d.id for d in await due_deliveries(first, now=clock.now(), limit=6)}
        async with sessions() as second, second.begin():
            # Were the first worker's rows locked without SKIP LOCKED, this would wait: fail instead of hang.
            await second.execute(text("SET LOCAL lock_timeout = '3s'"))
            taken_by_second = {d.id for d in await due_deliveries(second, now=clock.now(), limit=100)}

    assert len(taken_by_first) == 6
    assert len(taken_by_second) == 4
    assert not taken_by_first & taken_by_second
