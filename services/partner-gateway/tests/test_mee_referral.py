"""MEE Noord receives a referral only after consent (R9), end to end.

A real case-api process (its own PostgreSQL database) records the household's answers; its outbox is relayed to a
topic of this test on the real broker; the gateway's consumer fans the events out; its delivery worker reads the
referral's details from case-api with its service token (case-api logs that read, R17) and sends them signed to
MEE Noord's endpoint. An offer declined, or a consent withdrawn before the referral goes, sends MEE Noord nothing.
Names, addresses and BSNs here are made up.
"""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from case_api.db import OutboxRecord as CaseApiOutbox
from devinfra.receiver import WebhookReceiver
from eviction_schemas.envelope import CloudEvent
from partner_gateway.config import Settings
from partner_gateway.deliveries.minimisation import REFERRAL_TYPE
from partner_gateway.deliveries.models import Delivery, DeliveryStatus
from partner_gateway.deliveries.service import deliver, due_deliveries, fan_out, replay
from partner_gateway.inbound.case_api import CaseApi, TokenFile
from partner_gateway.partners.models import Partner, PartnerKind
from service_kit.db import make_engine, make_session_factory
from service_kit.outbox import OutboxRelay

pytestmark = [pytest.mark.postgres, pytest.mark.kafka, pytest.mark.e2e]

SETTINGS = Settings(_env_file=None)
WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)
ARREARS = "987.65"


def made_up_bsn() -> str:
    """A random number that passes the eleven-test (one per household: case-api joins a signal to a BSN's case)."""
    while True:
        prefix = f"{1 + uuid.uuid4().int % (9 * 10**7) + 10**7 - 1:08d}"
        check = sum(int(digit) * weight for digit, weight in zip(prefix, WEIGHTS, strict=True)) % 11
        if check < 10:
            return prefix + str(check)


@dataclass
class Household:
    bsn: str
    surname: str
    body: dict[str, Any]


def born(today: date, *, years: int) -> str:
    return (today - timedelta(days=years * 365 + 30)).isoformat()


def made_up_household(today: date) -> Household:
    """A tenant and two children at a made-up address nobody else in the test uses."""
    surname = f"Proefhuis{uuid.uuid4().hex[:6]}"
    bsn = made_up_bsn()
    body = {
        "street": "Referraalstraat",
        "house_number": str(1 + uuid.uuid4().int % 10**6),
        "postcode": "8917 RF",
        "city": "Leeuwarden",
        "email": f"{surname.lower()}@example.invalid",
        "mobile": "0612345678",
        "preferred_channel": "sms",
        "language": "fy",
        "bsn": bsn,
        "members": [
            {"role": "tenant", "initials": "T.", "given_name": "Tjitske", "surname": surname},
            {"role": "child", "given_name": "Sytske", "surname": surname, "birth_date": born(today, years=8)},
            {"role": "child", "given_name": "Wytse", "surname": surname, "birth_date": born(today, years=3)},
        ],
    }
    return Household(bsn, surname, body)


@dataclass
class CaseApiDriver:
    """A caseworker at case-api, and case-api's outbox relayed to the test's topic (as its relay process does)."""

    process: Any  # conftest.CaseApiProcess
    relay: OutboxRelay
    client: httpx.AsyncClient
    today: date

    async def threatened_case(self, household: Household) -> str:
        """An arrears signal opens the case; the bailiff's eviction date follows."""
        signal = {
            "partner_kind": "housing_corporation",
            "partner_id": "woonfriesland",
            "partner_reference": f"HUUR-{uuid.uuid4().hex[:8]}",
            "arrears_amount": ARREARS,
            "arrears_since": (self.today - timedelta(days=60)).isoformat(),
            "signal_date": self.today.isoformat(),
            "crisis": False,
        }
        opened = await self.client.post(
            "/v1/signals", json={"team": "team-noord", "household": household.body, "signal": signal}
        )
        assert opened.status_code == 201, opened.text
        case_id = str(opened.json()["case_id"])
        eviction = {"eviction_date": self.eviction_date.isoformat(), "served_on": self.today.isoformat()}
        scheduled = await self.client.post(f"/v1/cases/{case_id}/eviction/schedule", json=eviction)
        assert scheduled.status_code == 200, scheduled.text
        return case_id

    @property
    def eviction_date(self) -> date:
        return self.today + timedelta(days=28)

    async def answer_oco(self, case_id: str, *, accept: bool) -> str | None:
        """An OCO offer through two channels, answered; the consent's id when accepted."""
        offer = await self.client.post(
            f"/v1/cases/{case_id}/oco-offers", json={"moment": "date_set", "channels": ["letter", "sms"]}
        )
        assert offer.status_code == 201, offer.text
        answer: dict[str, Any] = {"answer": "accepted" if accept else "declined"}
        if accept:
            answer["consent"] = {"given_by": "the tenant", "method": "phone", "purpose": "referral to MEE Noord"}
        answered = await self.client.post(f"/v1/cases/{case_id}/oco-offers/{offer.json()['id']}/answer", json=answer)
        assert answered.status_code == 200, answered.text
        consent_id: str | None = answered.json()["consent_id"]
        return consent_id

    async def withdraw(self, case_id: str, consent_id: str) -> None:
        withdrawn = await self.client.post(f"/v1/cases/{case_id}/oco-consents/{consent_id}/withdraw")
        assert withdrawn.status_code == 200, withdrawn.text

    async def publish_outbox(self) -> int:
        published = 0
        while batch := await self.relay.publish_batch():
            published += batch
        return published

    async def referral_reads(self, case_id: str) -> list[tuple[str, str, str | None]]:
        """The processing log's reads of the case's referral (R17): actor's roles, operation, trace id."""
        engine = make_engine(self.process.database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text(
                        "SELECT actor_roles, operation, trace_id FROM processing_log "
                        "WHERE case_id = :case_id AND activity = 'oco-referral'"
                    ),
                    {"case_id": case_id},
                )
                return [(row.actor_roles, row.operation, row.trace_id) for row in rows]
        finally:
            await engine.dispose()


@pytest.fixture
def mee_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
async def case_api(start_case_api: Any, stream: Any, producer: AIOKafkaProducer, clock: Any) -> AsyncIterator[Any]:
    # Migrating and starting block: off the event loop.
    process = await asyncio.to_thread(start_case_api, case_events_topic=stream.topic, kafka_bootstrap=stream.bootstrap)
    engine = make_engine(process.database_url)
    relay = OutboxRelay(session_factory=make_session_factory(engine), model=CaseApiOutbox, producer=producer)
    try:
        async with process.caseworker() as client:
            yield CaseApiDriver(process, relay, client, clock.now().date())
    finally:
        await engine.dispose()


@dataclass
class Gateway:
    """The gateway's consumer and delivery worker, run by the test; MEE Noord subscribed to oco.accepted."""

    sessions: Any
    clock: Any
    consumer: Any
    mee: Partner
    case_api_url: str
    token_file: Path
    seen_before: int = 0

    async def consumed(self, published: int) -> None:
        """Waits until the consumer has committed `published` more records (case-api's events) than before."""
        target = self.seen_before + published
        deadline = time.monotonic() + 30
        while len(self.consumer.seen) < target:
            assert time.monotonic() < deadline, f"the consumer processed {len(self.consumer.seen)} of {target}"
            await asyncio.sleep(0.02)
        self.seen_before = target

    async def run_deliveries(self) -> None:
        """What the delivery worker does, once, with its client of case-api."""
        async with (
            httpx.AsyncClient(timeout=5) as http,
            httpx.AsyncClient(base_url=self.case_api_url, timeout=10) as case_api_http,
            self.sessions() as session,
            session.begin(),
        ):
            case_api = CaseApi(case_api_http, TokenFile(self.token_file))
            for delivery in await due_deliveries(session, now=self.clock.now(), limit=100):
                await deliver(
                    session, delivery=delivery, http=http, clock=self.clock, settings=SETTINGS, case_api=case_api
                )

    async def deliveries_of(self, case_id: str) -> list[Delivery]:
        async with self.sessions() as session:
            return list((await session.scalars(select(Delivery).where(Delivery.case_id == case_id))).all())


@pytest.fixture
async def gateway(
    partners: Any,
    sessions: Any,
    clock: Any,
    make_consumer: Any,
    mee_receiver: WebhookReceiver,
    case_api: Any,
    tmp_path: Path,
) -> AsyncIterator[Gateway]:
    mee, _ = await partners.partner(
        PartnerKind.client_support, event_types=["oco.accepted"], callback_url=mee_receiver.url, partner_id="mee-noord"
    )
    token_file = tmp_path / "case-api.token"
    token_file.write_text(case_api.process.token + "\n")  # role partner_gateway, as the stack writes it

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await fan_out(session, event=event, clock=clock)

    async with make_consumer(handle).running() as consumer:
        yield Gateway(sessions, clock, consumer, mee, case_api.process.url, token_file)


async def test_mee_noord_receives_a_referral_after_consent_and_nothing_after_a_decline(
    case_api: CaseApiDriver, gateway: Gateway, mee_receiver: WebhookReceiver, partners: Any
) -> None:
    accepting, declining = made_up_household(case_api.today), made_up_household(case_api.today)
    accepted_case = await case_api.threatened_case(accepting)
    declined_case = await case_api.threatened_case(declining)
    consent_id = await case_api.answer_oco(accepted_case, accept=True)
    assert await case_api.answer_oco(declined_case, accept=False) is None
    await gateway.consumed(await case_api.publish_outbox())

    # One delivery, of the accepted case only, holding no personal data: the details are read when it is sent.
    [pending] = await gateway.deliveries_of(accepted_case)
    assert await gateway.deliveries_of(declined_case) == []
    assert (pending.partner_id, pending.event_type, pending.status) == (
        "mee-noord",
        REFERRAL_TYPE,
        DeliveryStatus.pending,
    )
    assert json.loads(pending.payload)["data"] == {"consent_id": consent_id}
    for personal in (accepting.surname, accepting.bsn, "Referraalstraat", ARREARS):
        assert personal.encode() not in pending.payload

    await gateway.run_deliveries()

    [received] = mee_receiver.received
    Webhook(gateway.mee.outbound_secret).verify(received.body, received.headers)  # signed with MEE's secret
    referral = json.loads(received.body)
    assert (referral["type"], referral["subject"], referral["id"]) == (REFERRAL_TYPE, accepted_case, pending.event_id)
    data = referral["data"]
    assert set(data) == {"reference", "consent", "names", "contact", "language", "household", "eviction_date"}
    assert data["reference"] == consent_id  # what MEE Noord names in its messages about the referral
    assert data["consent"]["id"] == consent_id
    assert [(name["given_name"], name["surname"]) for name in data["names"]] == [("Tjitske", accepting.surname)]
    assert data["contact"]["email"] == accepting.body["email"]
    assert data["contact"]["address"]["street"] == "Referraalstraat"
    assert (data["language"], data["household"]) == ("fy", {"adults": 1, "minors": 2})
    assert data["eviction_date"] == case_api.eviction_date.isoformat()
    body = received.body.decode()
    for never in (accepting.bsn, ARREARS, "Sytske", "Wytse", "arrears", "bsn", "team-noord", declining.surname):
        assert never not in body, never

    # case-api logged the gateway's read, in the delivery's trace (R17); the gateway kept nothing of it.
    [(roles, operation, trace_id)] = await case_api.referral_reads(accepted_case)
    assert (roles, operation) == ("partner_gateway", "read")
    assert pending.traceparent is not None
    assert trace_id == pending.traceparent.split("-")[1]
    [delivered] = await gateway.deliveries_of(accepted_case)
    assert delivered.status is DeliveryStatus.delivered
    assert accepting.surname.encode() not in delivered.payload
    assert await case_api.referral_reads(declined_case) == []
    assert len(mee_receiver.received) == 1


async def test_a_consent_withdrawn_before_the_referral_goes_stops_it_for_good(
    case_api: CaseApiDriver, gateway: Gateway, mee_receiver: WebhookReceiver, sessions: Any, clock: Any
) -> None:
    household = made_up_household(case_api.today)
    case_id = await case_api.threatened_case(household)
    consent_id = await case_api.answer_oco(case_id, accept=True)
    assert consent_id is not None
    await gateway.consumed(await case_api.publish_outbox())
    [pending] = await gateway.deliveries_of(case_id)
    assert pending.status is DeliveryStatus.pending

    await case_api.withdraw(case_id, consent_id)
    await gateway.run_deliveries()

    [stopped] = await gateway.deliveries_of(case_id)
    assert (stopped.status, stopped.gave_up_reason, stopped.attempts) == (
        DeliveryStatus.gave_up,
        "consent_withdrawn",
        0,
    )
    assert mee_receiver.received == []
    assert await case_api.referral_reads(case_id) == []  # case-api refused before reading anything personal

    # A replay asks case-api again, and is refused again: the withdrawal holds.
    async with sessions() as session, session.begin():
        await replay(session, partner_id="mee-noord", delivery_id=stopped.id, clock=clock)
    await gateway.run_deliveries()
    [still] = await gateway.deliveries_of(case_id)
    assert (still.status, still.gave_up_reason) == (DeliveryStatus.gave_up, "consent_withdrawn")
    assert mee_receiver.received == []


async def test_mee_noords_lifecycle_reaches_the_case_and_the_corporation_learns_support_yes_or_no(
    case_api: CaseApiDriver,
    gateway: Gateway,
    mee_receiver: WebhookReceiver,
    partners: Any,
    gateway_with_case_api: Any,
    partner_messages: Any,
) -> None:
    """MEE Noord names the referral it received by its `reference`; its signed messages go through the gateway to
    case-api, which records them on the referral (events oco.referral-*); the support it reports is the case's,
    so the corporation, which receives support.started/.ended, learns that the household is in support."""
    corporation, _ = await partners.partner(
        PartnerKind.housing_corporation,
        event_types=["support.started", "support.ended"],
        callback_url="http://127.0.0.1:9/corporation",
    )
    household = made_up_household(case_api.today)
    case_id = await case_api.threatened_case(household)
    await partners.map_case(corporation, case_id)  # the corporation's tenant: its arrears message linked the case
    consent_id = await case_api.answer_oco(case_id, accept=True)
    await gateway.consumed(await case_api.publish_outbox())
    await gateway.run_deliveries()
    [received] = mee_receiver.received
    reference = json.loads(received.body)["data"]["reference"]
    assert reference == consent_id

    process = case_api.process
    async with gateway_with_case_api(
        case_api_url=process.url,
        case_api_http=lambda: httpx.AsyncClient(base_url=process.url, timeout=10),
        token=process.token,
    ) as systems:
        secret = partner_messages.new_secret()
        rotated = await systems.client.post("/v1/partners/mee-noord/secrets/rotate", json={"inbound_secret": secret})
        assert rotated.status_code == 200, rotated.text
        systems.secrets["mee-noord"] = secret
        on = case_api.today.isoformat()

        def sent(message_type: str, **data: Any) -> dict[str, Any]:
            return {"type": message_type, "reference": reference, "occurred_at": f"{on}T12:00:00Z", "data": data}

        accepted = await systems.deliver("mee-noord", sent("referral.accepted", accepted_on=on))
        started = await systems.deliver("mee-noord", sent("support.started", started_on=on, kind="debt_arrangement"))
        assert [accepted["status"], started["status"]] == ["processed", "processed"], (accepted, started)
        assert started["outcome"] == {"case_id": case_id, "case_api_status": 201, "effect": "referral_support_started"}
        await gateway.consumed(await case_api.publish_outbox())

        ended = await systems.deliver("mee-noord", sent("support.ended", ended_on=on))
        assert ended["status"] == "processed", ended
        await gateway.consumed(await case_api.publish_outbox())

    timeline = (await case_api.client.get(f"/v1/cases/{case_id}/timeline")).json()["items"]
    shown = [entry["event"] for entry in timeline]
    assert [name for name in shown if name.startswith(("oco.referral-", "support."))] == [
        "oco.referral-accepted",
        "support.started",
        "oco.referral-support-started",
        "support.ended",
        "oco.referral-support-ended",
    ]
    [referral] = (await case_api.client.get(f"/v1/cases/{case_id}/oco-referrals")).json()
    assert (referral["reference"], referral["status"]) == (consent_id, "support_ended")

    # The corporation's webhooks (queued for its endpoint): support yes, then no; never MEE Noord's details.
    told = [
        (delivery.event_type.removeprefix("nl.eviction-prevention."), json.loads(delivery.payload)["data"])
        for delivery in sorted(await gateway.deliveries_of(case_id), key=lambda delivery: delivery.sequence)
        if delivery.partner_id == corporation.id and delivery.event_type.endswith(("support.started", "support.ended"))
    ]
    assert told == [
        (
            "support.started",
            {"in_support": True, "arrangement": "debt_arrangement", "active_arrangements": ["debt_arrangement"]},
        ),
        ("support.ended", {"in_support": False, "arrangement": "debt_arrangement", "active_arrangements": []}),
    ]
    for delivery in await gateway.deliveries_of(case_id):
        if delivery.partner_id == corporation.id:
            assert consent_id.encode() not in delivery.payload
