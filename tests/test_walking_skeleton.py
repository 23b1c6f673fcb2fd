"""The walking skeleton, end to end: a signal over HTTP into case-api with a bearer token, the outbox relay to
real Kafka, the notifier's local outbox channel, and a signed webhook from the partner gateway to a subscribed
receiver.

Runs the services as real processes on real PostgreSQL and the session's real broker; they trust a signing key
of this test only.
"""

import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from case_api_fixtures import made_up_household, made_up_signal
from standardwebhooks.webhooks import Webhook

from devinfra.e2e import post_partner_message, running_stack, wait_for
from devinfra.receiver import WebhookReceiver
from devinfra.stack import Stack
from eviction_schemas.envelope import CASE_EVENTS_TOPIC
from eviction_schemas.registry import validate_event
from notifier.notifications.choice import QuietHours

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

PARTNER_SECRET = "whsec_" + base64.b64encode(b"made-up secret for a test corporation").decode()
PARTNER_INBOUND_SECRET = "whsec_" + base64.b64encode(b"made-up inbound secret of a test corporation").decode()
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
async def stack(
    kafka_bootstrap: str, postgres_url_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(
        kafka_bootstrap=kafka_bootstrap,
        postgres_url_factory=postgres_url_factory,
        state_dir=tmp_path_factory.mktemp("stack"),
        oidc_dir=tmp_path_factory.mktemp("dev-oidc"),
    ) as stack:
        yield stack


async def test_a_case_travels_from_http_through_kafka_to_a_message_and_a_signed_webhook(
    stack: Stack, kafka_bootstrap: str
) -> None:
    with WebhookReceiver() as receiver:
        gateway = httpx.Client(base_url=stack.url("partner-gateway"))
        admin = {"authorization": f"Bearer {stack.token('admin')}"}
        assert (
            gateway.post(
                "/v1/partners",
                json={
                    "id": "corporation-test",
                    "name": "Test housing corporation",
                    "kind": "housing_corporation",
                    "outbound_secret": PARTNER_SECRET,
                    "inbound_secret": PARTNER_INBOUND_SECRET,
                },
                headers=admin,
            ).status_code
            == 201
        )
        subscribed = gateway.post(
            "/v1/partners/corporation-test/subscriptions",
            json={"event_types": ["case.opened"], "callback_url": receiver.url + "/hooks"},
            headers=admin,
        )
        assert subscribed.status_code == 201, subscribed.text

        # A landlord's signal for a made-up household with two children opens the case.
        opened = httpx.post(
            stack.url("case-api") + "/v1/signals",
            json={"team": "team-noord", "household": made_up_household(), "signal": made_up_signal()},
            headers={
                "authorization": f"Bearer {stack.token('team_lead', team='team-noord')}",
                "traceparent": TRACEPARENT,
            },
        )
        assert opened.status_code == 201, opened.text
        assert opened.json()["case_opened"] is True
        case_id = opened.json()["case_id"]
        # The corporation's own message for the household ties the case to it (its tenants' cases only).
        post_partner_message(
            gateway,
            "corporation-test",
            PARTNER_INBOUND_SECRET,
            {
                "type": "arrears.reported",
                "reference": "tenancy-test-1",
                "occurred_at": "2026-02-27T09:00:00Z",
                "data": {
                    "initials": "J.",
                    "surname": "Testhuis",
                    "street": "Proefstraat",
                    "house_number": "12",
                    "postcode": "8911 AB",
                    "city": "Leeuwarden",
                    "email": "jelle.testhuis@example.invalid",
                    "arrears_amount": "850.00",
                    "arrears_since": "2026-01-01",
                    "signal_date": "2026-02-27",
                },
            },
        )

        # On the topic: the case's first CloudEvent (signal.received follows it), keyed by the case id, valid
        # against its contract.
        consumer = AIOKafkaConsumer(
            CASE_EVENTS_TOPIC, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        try:
            record = None
            deadline = time.monotonic() + 30
            while record is None and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for candidate in records:
                        if record is None and candidate.key == case_id.encode():
                            record = candidate
        finally:
            await consumer.stop()
        assert record is not None, "case.opened never reached the topic"
        envelope = json.loads(record.value)
        validate_event(envelope)
        assert envelope["type"] == "nl.eviction-prevention.case.opened"
        assert envelope["subject"] == case_id
        assert envelope["traceparent"] == TRACEPARENT
        assert dict(record.headers)["content-type"] == b"application/cloudevents+json"

        # The notifier wrote the M1 messages into its local outbox channel: letter, SMS and e-mail for the
        # household recorded in case-api (read at send time in local mode too), each once; the SMS waits when the
        # test runs in the quiet hours.
        outbox: Path = stack.outbox_dir
        quiet = QuietHours(ZoneInfo("Europe/Amsterdam")).contains(datetime.now(UTC))
        wait_for(lambda: len(list(outbox.glob("*.pdf"))) == 1, what="the M1 letter in the notifier's outbox")
        if not quiet:
            wait_for(lambda: len(list(outbox.glob("*.sms.txt"))) == 1, what="the M1 SMS in the notifier's outbox")
        emails = wait_for(lambda: list(outbox.glob("*.eml")), what="the M1 e-mail in the notifier's outbox")
        assert isinstance(emails, list)
        assert len(emails) == 1
        assert "gratis" in emails[0].read_text()
        assert "jelle.testhuis@example.invalid" in emails[0].read_text(), "to the recorded e-mail address"
        caseworker = {"authorization": f"Bearer {stack.token('outreach_worker', team='team-noord')}"}
        listed = httpx.get(f"{stack.url('notifier')}/v1/cases/{case_id}/notifications", headers=caseworker).json()
        assert sorted((n["moment"], n["channel"], n["status"]) for n in listed["items"]) == [
            ("M1", "email", "sent"),
            ("M1", "letter", "sent"),
            ("M1", "sms", "requested" if quiet else "sent"),
        ]
        assert [(p["moment"], p["status"]) for p in listed["planned"]] == [("M1", "fired"), ("M2", "pending")]

        # The gateway delivered a signed, minimised webhook to the subscribed receiver.
        wait_for(lambda: receiver.received, what="a webhook at the receiver")
        [delivery] = receiver.received
        assert delivery.path == "/hooks"
        payload = Webhook(PARTNER_SECRET).verify(delivery.body, delivery.headers)
        assert payload["subject"] == case_id
        assert payload["data"] == {"case_id": case_id, "has_minors": True}
