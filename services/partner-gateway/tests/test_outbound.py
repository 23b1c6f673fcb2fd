"""Outbound rules beyond the happy path: which answers are retried, Retry-After, 410, the per-attempt log,
partner.delivery-failed through the gateway's outbox, two signatures during a secret rotation, and replay; and
the contract's fields per kind through real HTTP: requests to postpone (the grounds category for the bailiff
only), second-chance requests, minors yes/no, and the bailiff's contact person read from a real case-api."""

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from devinfra.ports import free_port
from devinfra.receiver import WebhookReceiver
from eviction_schemas.envelope import CloudEvent, make_event
from eviction_schemas.registry import load_sample, validate_cloud_event, validate_event
from partner_gateway.config import Settings
from partner_gateway.db import OutboxRecord
from partner_gateway.deliveries.models import Delivery, DeliveryAttempt, DeliveryStatus
from partner_gateway.deliveries.service import deliver, due_deliveries, fan_out, parse_retry_after, replay
from partner_gateway.inbound.case_api import CaseApi, TokenFile
from partner_gateway.partners import service as registry
from partner_gateway.partners.models import PartnerKind, Subscription
from partner_gateway.partners.schemas import SecretRotation
from service_kit.settings import DEVELOPMENT_OIN

pytestmark = pytest.mark.postgres

SETTINGS = Settings(_env_file=None, partner_events_topic="test.partner-events")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def setup(partners: Any, sessions: Any, clock: Any, url: str, *events: Any) -> tuple[Any, Any, list[str]]:
    partner, subscription = await partners.partner(
        PartnerKind.housing_corporation, event_types=["case.opened"], callback_url=url
    )
    ids = []
    for event in events:
        await partners.map_case(partner, event.subject)
        async with sessions() as session, session.begin():
            ids += [d.id for d in await fan_out(session, event=event, clock=clock)]
    return partner, subscription, ids


async def attempt(sessions: Any, delivery_id: str, http: httpx.AsyncClient, clock: Any) -> Delivery:
    async with sessions() as session, session.begin():
        delivery: Delivery | None = await session.get(Delivery, delivery_id)
        assert delivery is not None
        await deliver(session, delivery=delivery, http=http, clock=clock, settings=SETTINGS)
    return delivery


async def rows(sessions: Any, model: type[Any]) -> list[Any]:
    async with sessions() as session:
        return list((await session.scalars(select(model))).all())


def failed_events(outbox: list[OutboxRecord]) -> list[dict[str, Any]]:
    events = [json.loads(row.payload) for row in outbox]
    for event in events:
        validate_event(event)  # the gateway's own event keeps the contract
    return events


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_a_4xx_other_than_410_and_429_gives_up_at_once_and_reports_it(
    status: int, partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    partner, subscription, [delivery_id] = await setup(partners, sessions, clock, receiver.url, new_case_opened())
    receiver.status = status

    delivery = await attempt(sessions, delivery_id, http, clock)

    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.gave_up, 1, status)
    assert delivery.gave_up_reason == "refused"
    [outbox] = await rows(sessions, OutboxRecord)
    assert outbox.topic == "test.partner-events"
    assert outbox.key == delivery.case_id
    [event] = failed_events([outbox])
    assert event["type"] == "nl.eviction-prevention.partner.delivery-failed"
    assert event["subject"] == delivery.case_id
    assert event["data"] == {
        "partner_id": partner.id,
        "partner_kind": "housing_corporation",
        "delivery_id": delivery_id,
        "message_type": "case.opened",
        "idempotency_key": delivery_id,
        "attempts": 1,
        "reason_code": "refused",
        "last_http_status": status,
    }
    [subscription_now] = [s for s in await rows(sessions, Subscription) if s.id == subscription.id]
    assert subscription_now.active, "a refusal stops one delivery, not the endpoint"


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_429_and_5xx_are_retried_on_the_schedule(
    status: int, partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    _, _, [delivery_id] = await setup(partners, sessions, clock, receiver.url, new_case_opened())
    receiver.status = status
    delivery = await attempt(sessions, delivery_id, http, clock)
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.pending, status)
    assert delivery.next_attempt_at == clock.now() + timedelta(seconds=5)
    assert await rows(sessions, OutboxRecord) == []


async def test_retry_after_in_seconds_or_as_a_date_is_honoured_when_later_than_the_schedule(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    _, _, [first, second, third] = await setup(
        partners, sessions, clock, receiver.url, new_case_opened(), new_case_opened(), new_case_opened()
    )
    receiver.status = 429
    receiver.headers = {"Retry-After": "120"}
    assert (await attempt(sessions, first, http, clock)).next_attempt_at == clock.now() + timedelta(seconds=120)

    receiver.status = 503
    receiver.headers = {"Retry-After": format_datetime(clock.now() + timedelta(minutes=10), usegmt=True)}
    assert (await attempt(sessions, second, http, clock)).next_attempt_at == clock.now() + timedelta(minutes=10)

    receiver.headers = {"Retry-After": "1"}  # sooner than the schedule: the schedule wins
    assert (await attempt(sessions, third, http, clock)).next_attempt_at == clock.now() + timedelta(seconds=5)


def test_retry_after_that_cannot_be_read_is_ignored_and_a_long_one_is_capped(clock: Any) -> None:
    assert parse_retry_after(None, now=clock.now()) is None
    assert parse_retry_after("soon", now=clock.now()) is None
    assert parse_retry_after("999999999", now=clock.now()) == timedelta(hours=24)


async def test_410_disables_the_subscription_and_gives_up_its_pending_deliveries(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    _, subscription, [gone, waiting] = await setup(
        partners, sessions, clock, receiver.url, new_case_opened(), new_case_opened()
    )
    receiver.status = 410

    delivery = await attempt(sessions, gone, http, clock)

    assert (delivery.status, delivery.gave_up_reason, delivery.last_status_code) == (
        DeliveryStatus.gave_up,
        "endpoint_gone",
        410,
    )
    by_id = {d.id: d for d in await rows(sessions, Delivery)}
    assert (by_id[waiting].status, by_id[waiting].gave_up_reason) == (DeliveryStatus.gave_up, "endpoint_disabled")
    [subscription_now] = [s for s in await rows(sessions, Subscription) if s.id == subscription.id]
    assert subscription_now.active is False
    reasons = sorted(e["data"]["reason_code"] for e in failed_events(await rows(sessions, OutboxRecord)))
    assert reasons == ["endpoint_disabled", "endpoint_gone"]


async def test_every_attempt_is_logged_with_its_answer_error_and_duration(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    _, _, [delivery_id] = await setup(partners, sessions, clock, receiver.url, new_case_opened())
    receiver.status = 503
    first_at = clock.now()
    await attempt(sessions, delivery_id, http, clock)
    clock.advance(timedelta(seconds=5))
    receiver.status = 200
    await attempt(sessions, delivery_id, http, clock)

    log = sorted(await rows(sessions, DeliveryAttempt), key=lambda a: a.attempt)
    assert [(a.delivery_id, a.attempt, a.at, a.status_code) for a in log] == [
        (delivery_id, 1, first_at, 503),
        (delivery_id, 2, first_at + timedelta(seconds=5), 200),
    ]
    assert all(a.duration_ms >= 0 for a in log)
    assert log[1].error is None


async def test_giving_up_after_the_schedule_emits_retries_exhausted(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    _, _, [delivery_id] = await setup(partners, sessions, clock, receiver.url, new_case_opened())
    receiver.status = 500
    delivery = await attempt(sessions, delivery_id, http, clock)
    while delivery.status is DeliveryStatus.pending:
        clock.set(delivery.next_attempt_at)
        delivery = await attempt(sessions, delivery_id, http, clock)
    [event] = failed_events(await rows(sessions, OutboxRecord))
    assert event["data"]["reason_code"] == "retries_exhausted"
    assert event["data"]["attempts"] == 10
    assert event["data"]["last_http_status"] == 500


async def test_during_a_rotation_deliveries_carry_both_signatures(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    partner, _, [before, during, after] = await setup(
        partners, sessions, clock, receiver.url, new_case_opened(), new_case_opened(), new_case_opened()
    )
    old_secret = partner.outbound_secret
    await attempt(sessions, before, http, clock)
    async with sessions() as session, session.begin():
        rotated = await registry.rotate_secrets(
            session, partner_id=partner.id, request=SecretRotation(), grace=timedelta(hours=1), clock=clock
        )
    await attempt(sessions, during, http, clock)
    clock.advance(timedelta(hours=1))
    await attempt(sessions, after, http, clock)

    first, second, third = receiver.received
    assert len(first.headers["webhook-signature"].split(" ")) == 1
    assert len(second.headers["webhook-signature"].split(" ")) == 2
    assert len(third.headers["webhook-signature"].split(" ")) == 1
    # During the grace period a partner checking with either secret accepts the delivery.
    for secret in (old_secret, rotated.outbound_secret):
        Webhook(secret).verify(second.body, second.headers)
    # (After the clock moved on, Webhook.verify would refuse the timestamp against the wall clock: sign and compare.)
    at = datetime.fromtimestamp(int(third.headers["webhook-timestamp"]), UTC)
    expected = Webhook(rotated.outbound_secret).sign(third.headers["webhook-id"], at, third.body.decode())
    assert third.headers["webhook-signature"] == expected


async def test_a_replay_sends_the_same_message_again_with_the_same_webhook_id(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, new_case_opened: Any
) -> None:
    partner, _, [delivery_id] = await setup(partners, sessions, clock, receiver.url, new_case_opened())
    receiver.status = 404
    assert (await attempt(sessions, delivery_id, http, clock)).status is DeliveryStatus.gave_up
    receiver.status = 200
    async with sessions() as session, session.begin():
        replayed = await replay(session, partner_id=partner.id, delivery_id=delivery_id, clock=clock)
        assert (replayed.status, replayed.next_attempt_at) == (DeliveryStatus.pending, clock.now())

    delivery = await attempt(sessions, delivery_id, http, clock)

    assert (delivery.status, delivery.attempts) == (DeliveryStatus.delivered, 2)
    [received] = receiver.received
    assert received.headers["webhook-id"] == delivery_id
    Webhook(partner.outbound_secret).verify(received.body, received.headers)


# --- the contract's newer fields, per kind, through real HTTP ----------------------------------------------


async def deliver_all(sessions: Any, clock: Any, http: httpx.AsyncClient, case_api: CaseApi | None = None) -> None:
    """What the delivery worker does: rounds of due deliveries until none is due (a case's next delivery waits for
    its earlier one)."""
    for _ in range(20):
        async with sessions() as session, session.begin():
            due = await due_deliveries(session, now=clock.now(), limit=100)
            for delivery in due:
                await deliver(session, delivery=delivery, http=http, clock=clock, settings=SETTINGS, case_api=case_api)
        if not due:
            return
    raise AssertionError("deliveries still due after 20 rounds")


def event_of(name: str, case_id: str, sequence: int, **data: Any) -> CloudEvent:
    values = load_sample(name)["data"] | data
    if "case_id" in values:
        values["case_id"] = case_id
    event = make_event(
        event=name,
        source_service="case-api",
        oin=DEVELOPMENT_OIN,
        subject=case_id,
        sequence=sequence,
        time=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        data=values,
    )
    validate_cloud_event(event)
    return event


async def test_each_kind_gets_its_own_fields_of_requests_and_minors_and_nothing_it_may_not_see(
    partners: Any, sessions: Any, clock: Any, http: Any
) -> None:
    with WebhookReceiver() as at_corporation, WebhookReceiver() as at_bailiff, WebhookReceiver() as at_others:
        corporation, _ = await partners.partner(
            PartnerKind.housing_corporation,
            event_types=["household.updated", "postponement.requested", "second-chance.requested"],
            callback_url=at_corporation.url,
        )
        bailiff, _ = await partners.partner(
            PartnerKind.bailiff,
            event_types=["household.updated", "postponement.requested"],
            callback_url=at_bailiff.url,
        )
        utility, _ = await partners.partner(
            PartnerKind.utility, event_types=["case.closed"], callback_url=at_others.url
        )
        mee, _ = await partners.partner(PartnerKind.client_support)
        everything = [
            "household.updated",
            "postponement.requested",
            "second-chance.requested",
            "contact-person.assigned",
        ]
        await partners.raw_subscription(utility, everything)
        await partners.raw_subscription(mee, everything)
        case_id = str(uuid.uuid4())
        for partner in (corporation, bailiff, utility, mee):
            await partners.map_case(partner, case_id)  # each one's message about the case linked it
        request = event_of(
            "postponement.requested",
            case_id,
            4,
            recipients=["housing_corporation", "bailiff"],
            grounds_category="vulnerable_household",
        )
        for event in (
            event_of("case.opened", case_id, 1, has_minors=False),
            event_of("household.updated", case_id, 2, has_minors=True, changed=["members"]),
            event_of("household.updated", case_id, 3, has_minors=True, changed=["contact"]),  # no minors change
            request,
            event_of("second-chance.requested", case_id, 5),
            event_of("postponement.requested", case_id, 6, recipients=["bailiff"], grounds_category="other"),
        ):
            async with sessions() as session, session.begin():
                await fan_out(session, event=event, clock=clock)

        await deliver_all(sessions, clock, http)

        def received(receiver: WebhookReceiver, secret: str) -> list[tuple[str, dict[str, Any]]]:
            bodies = [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]
            return [(body["type"].removeprefix("nl.eviction-prevention."), body["data"]) for body in bodies]

        assert received(at_corporation, corporation.outbound_secret) == [
            ("household.updated", {"has_minors": True}),
            (
                "postponement.requested",
                {
                    "request_id": request.data["request_id"],
                    "eviction_date": request.data["eviction_date"],
                    "requested_on": request.data["requested_on"],
                },
            ),
            ("second-chance.requested", load_sample("second-chance.requested")["data"]),
        ]
        assert b"vulnerable_household" not in b"".join(r.body for r in at_corporation.received)
        assert received(at_bailiff, bailiff.outbound_secret) == [
            ("household.updated", {"children_present": True}),
            (
                "postponement.requested",
                {
                    "request_id": request.data["request_id"],
                    "eviction_date": request.data["eviction_date"],
                    "requested_on": request.data["requested_on"],
                    "grounds_category": "vulnerable_household",
                },
            ),
            (
                "postponement.requested",
                {
                    "request_id": request.data["request_id"],
                    "eviction_date": request.data["eviction_date"],
                    "requested_on": request.data["requested_on"],
                    "grounds_category": "other",
                },
            ),
        ]
        assert at_others.received == [], "a utility learns only picked up yes/no, MEE Noord only referrals"
        assert {d.partner_id for d in await rows(sessions, Delivery)} == {corporation.id, bailiff.id}


async def test_a_bailiff_s_contact_person_is_read_from_case_api_when_sent_and_never_stored(
    partners: Any, sessions: Any, clock: Any, http: Any, receiver: Any, case_api_process: Any, tmp_path: Path
) -> None:
    async with case_api_process.caseworker() as staff:
        opened = await staff.post(
            "/v1/signals",
            json={"team": "team-noord", "household": made_up_household(house_number="77"), "signal": made_up_signal()},
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        assigned = await staff.put(
            f"/v1/cases/{case_id}/contact-person",
            json={
                "kind": "caseworker",
                "name": "A. Proefmedewerker",
                "work_email": "a.proef@gemeente.example",
                "work_phone": "058 123 4567",
            },
        )
        assert assigned.status_code == 200, assigned.text
    bailiff, _ = await partners.partner(
        PartnerKind.bailiff, event_types=["contact-person.assigned"], callback_url=receiver.url
    )
    await partners.map_case(bailiff, case_id, reference="DW-2026-77")
    async with sessions() as session, session.begin():
        [made] = await fan_out(session, event=event_of("contact-person.assigned", case_id, 3), clock=clock)
    assert json.loads(made.payload)["data"] == {"contact_person": {"kind": "caseworker"}}
    token_file = tmp_path / "case-api.token"
    token_file.write_text(case_api_process.token + "\n")  # role partner_gateway, as the stack writes it

    # case-api cannot be asked: nothing is sent without the contact person; the delivery waits for its retry.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}", timeout=2) as down:
        await deliver_all(sessions, clock, http, CaseApi(down, TokenFile(token_file)))
    [waiting] = await rows(sessions, Delivery)
    assert (waiting.status, waiting.attempts, receiver.received) == (DeliveryStatus.pending, 1, [])
    assert waiting.last_error is not None
    assert waiting.last_error.startswith("case-api")

    clock.set(waiting.next_attempt_at)
    async with httpx.AsyncClient(base_url=case_api_process.url, timeout=10) as case_api_http:
        await deliver_all(sessions, clock, http, CaseApi(case_api_http, TokenFile(token_file)))
    [sent] = receiver.received
    body = Webhook(bailiff.outbound_secret).verify(sent.body, sent.headers)
    assert body["data"] == {
        "contact_person": {
            "kind": "caseworker",
            "name": "A. Proefmedewerker",
            "work_email": "a.proef@gemeente.example",
            "work_phone": "058 123 4567",
        }
    }
    [delivered] = await rows(sessions, Delivery)
    assert delivered.status is DeliveryStatus.delivered
    assert b"Proefmedewerker" not in delivered.payload, "read at send time, never stored"
    # case-api wrote the gateway's read in its processing log (R17).
    async with case_api_process.caseworker() as admin:
        log = await admin.get("/v1/processing-log", params={"caseId": case_id})
    assert log.status_code == 200, log.text
    reads = [e for e in log.json()["items"] if e["actor"] == "partner-gateway" and e["operation"] == "read"]
    assert len(reads) == 1
