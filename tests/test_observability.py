"""Observability across the services, on real processes: a trace id sent with the HTTP request to case-api is
in the notifier's and the gateway's worker logs and on the partner's webhook; every log line is JSON and none
holds the made-up household's names, contact details or BSN; /metrics of each API and each worker's metrics
server show their metrics, and they move.

Runs the services as real processes (devinfra.stack.Stack) on real PostgreSQL and the session's broker.
"""

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from devinfra.e2e import post_partner_message, running_stack, wait_for
from devinfra.ports import free_port
from devinfra.receiver import WebhookReceiver
from devinfra.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

PARTNER_SECRET = "whsec_" + base64.b64encode(b"made-up secret for an observed corporation").decode()
PARTNER_INBOUND_SECRET = "whsec_" + base64.b64encode(b"made-up inbound secret of an observed corporation").decode()
# A made-up household: fictitious names and contact details, and a BSN that only passes the eleven-test.
BSN = "111222333"
PERSONAL_DATA = (BSN, "Wietske", "Proefdijkstra", "Sjoerdje", "wietske.proefdijkstra@example.invalid", "0687654321")
WORKERS_WITH_METRICS = (
    "case-api-outbox_relay",
    "notifier-consumer",
    "partner-gateway-consumer",
    "partner-gateway-delivery",
)


def made_up_household() -> dict[str, object]:
    return {
        "street": "Observatiestraat",
        "house_number": "7",
        "postcode": "8913 CD",
        "city": "Leeuwarden",
        "email": "wietske.proefdijkstra@example.invalid",
        "mobile": "0687654321",
        "preferred_channel": "email",
        "language": "nl",
        "bsn": BSN,
        "members": [
            {"role": "tenant", "initials": "W.", "given_name": "Wietske", "surname": "Proefdijkstra",
             "birth_date": "1984-03-09"},
            {"role": "child", "given_name": "Sjoerdje", "surname": "Proefdijkstra", "birth_date": "2016-08-21"},
        ],
    }  # fmt: skip


def signal() -> dict[str, object]:
    return {
        "partner_kind": "housing_corporation",
        "partner_id": "corporation-observed",
        "partner_reference": "tenancy-obs-1",
        "arrears_amount": "912.40",
        "arrears_since": "2026-01-01",
        "signal_date": "2026-02-27",
        "crisis": False,
    }


def samples(exposition: str, name: str) -> dict[str, float]:
    """`{labels}` -> value of every sample called `name` in a Prometheus text exposition."""
    found = {}
    for line in exposition.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            found[key[len(name) :]] = float(value)
    return found


def log_lines(stack: Stack, child: str) -> list[dict[str, Any]]:
    text = (stack.log_dir / f"{child}.log").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
async def stack(
    kafka_bootstrap: str, postgres_url_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(
        kafka_bootstrap=kafka_bootstrap,
        postgres_url_factory=postgres_url_factory,
        state_dir=tmp_path_factory.mktemp("observed-stack"),
        oidc_dir=tmp_path_factory.mktemp("dev-oidc"),
        metrics_ports={worker: free_port() for worker in WORKERS_WITH_METRICS},
    ) as stack:
        yield stack


def metrics_of(stack: Stack, process: str) -> str:
    url = (
        f"http://127.0.0.1:{stack.metrics_ports[process]}/metrics"
        if process in stack.metrics_ports
        else stack.url(process) + "/metrics"
    )
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, (process, response.text)
    return response.text


def test_a_trace_id_travels_from_the_request_to_the_workers_logs_and_the_webhook_and_no_log_holds_personal_data(
    stack: Stack,
) -> None:
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    case_api_before = metrics_of(stack, "case-api")
    with WebhookReceiver() as receiver:
        gateway = httpx.Client(base_url=stack.url("partner-gateway"))
        partner = {
            "id": "corporation-observed",
            "name": "Observed housing corporation",
            "kind": "housing_corporation",
            "outbound_secret": PARTNER_SECRET,
            "inbound_secret": PARTNER_INBOUND_SECRET,
        }
        admin = {"authorization": f"Bearer {stack.token('admin')}"}
        assert gateway.post("/v1/partners", json=partner, headers=admin).status_code == 201
        subscription = {"event_types": ["case.opened", "support.started"], "callback_url": receiver.url + "/hooks"}
        subscribed = gateway.post("/v1/partners/corporation-observed/subscriptions", json=subscription, headers=admin)
        assert subscribed.status_code == 201

        token = stack.token("team_lead", team="team-noord")
        opened = httpx.post(
            stack.url("case-api") + "/v1/signals",
            json={"team": "team-noord", "household": made_up_household(), "signal": signal()},
            headers={"authorization": f"Bearer {token}", "traceparent": traceparent},
        )
        assert opened.status_code == 201, opened.text
        assert opened.headers["traceparent"].split("-")[1] == trace_id
        case_id = opened.json()["case_id"]
        read = httpx.get(f"{stack.url('case-api')}/v1/cases/{case_id}", headers={"authorization": f"Bearer {token}"})
        assert read.status_code == 200
        # The corporation's own message for the household ties the case to it (its tenants' cases only).
        post_partner_message(
            gateway,
            "corporation-observed",
            PARTNER_INBOUND_SECRET,
            {
                "type": "arrears.reported",
                "reference": "tenancy-obs-2",
                "occurred_at": "2026-02-27T09:00:00Z",
                "data": {
                    "initials": "W.",
                    "surname": "Proefdijkstra",
                    "street": "Observatiestraat",
                    "house_number": "7",
                    "postcode": "8913 CD",
                    "city": "Leeuwarden",
                    "email": "wietske.proefdijkstra@example.invalid",
                    "arrears_amount": "912.40",
                    "arrears_since": "2026-01-01",
                    "signal_date": "2026-02-27",
                },
            },
        )

        # The message linked the case to the corporation: it gets the case as it is now (a case.snapshot, in the
        # trace of its own message, or case.opened when the link came before the gateway read the event).
        wait_for(lambda: receiver.received, what="the corporation's first webhook")
        # A caseworker's next change in the same trace (another request of the same user action) reaches the
        # corporation as a webhook that continues the trace.
        started = httpx.post(
            f"{stack.url('case-api')}/v1/cases/{case_id}/support",
            json={"kind": "payment_arrangement"},
            headers={"authorization": f"Bearer {token}", "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"},
        )
        assert started.status_code == 201, started.text

        def support_webhook() -> list[Any]:
            return [r for r in receiver.received if json.loads(r.body)["type"].endswith(".support.started")]

        [webhook] = wait_for(support_webhook, what="the support.started webhook at the receiver")
        assert webhook.headers["traceparent"].split("-")[1] == trace_id
        assert len(receiver.received) == 2
    wait_for(lambda: list(stack.outbox_dir.glob("*.eml")), what="a message in the notifier's outbox")

    # The workers that handled the request's events logged under its trace id.
    for child in ("notifier-consumer", "partner-gateway-consumer", "partner-gateway-delivery"):
        traced = wait_for(
            lambda child=child: [line for line in log_lines(stack, child) if line.get("trace_id") == trace_id],
            what=f"a log line of {child} with the request's trace id",
        )
        assert {line["service"] for line in traced} <= {"notifier", "partner-gateway"}

    # Metrics moved: the HTTP histogram by route template, the notifications and the deliveries.
    case_api_after = metrics_of(stack, "case-api")
    route = '{method="GET",route="/v1/cases/{case_id}",status="200"}'
    assert samples(case_api_after, "http_request_duration_seconds_count")[route] == (
        samples(case_api_before, "http_request_duration_seconds_count").get(route, 0) + 1
    )
    assert case_id not in case_api_after
    wait_for(
        lambda: samples(metrics_of(stack, "notifier"), "notifications").get('{channel="email",status="sent"}') == 1,
        what="the sent e-mail counted on the notifier's /metrics",
    )
    assert samples(metrics_of(stack, "partner-gateway"), "partner_deliveries") == {
        '{attempts="1",status="delivered"}': 2
    }
    assert samples(metrics_of(stack, "partner-gateway-delivery"), "partner_delivery_attempts_total") == {
        '{outcome="delivered"}': 2
    }
    assert samples(metrics_of(stack, "case-api-outbox_relay"), "outbox_published_events_total")[""] >= 2

    # Every line of every log is JSON, and none holds the household's personal data.
    logs = sorted(stack.log_dir.glob("*.log"))
    assert len(logs) >= 10
    for path in logs:
        text = path.read_text()
        for line in text.splitlines():
            if line.strip():
                assert {"time", "level", "logger", "message", "service"} <= set(json.loads(line)), (path.name, line)
        for value in PERSONAL_DATA:
            assert value not in text, f"{value!r} in {path.name}"


def test_every_api_and_worker_serves_its_metrics(stack: Stack) -> None:
    case_api = metrics_of(stack, "case-api")
    for name in (
        "http_request_duration_seconds_bucket",
        "outbox_backlog_events",
        "outbox_oldest_unpublished_age_seconds",
    ):
        assert name in case_api
    assert samples(case_api, "outbox_backlog_events")[""] >= 0
    assert "http_request_duration_seconds" in metrics_of(stack, "notifier")
    assert "http_request_duration_seconds" in metrics_of(stack, "partner-gateway")
    for worker, group in (("notifier-consumer", "notifier"), ("partner-gateway-consumer", "partner-gateway")):
        lag = wait_for(
            lambda worker=worker: samples(metrics_of(stack, worker), "kafka_consumer_lag_records"),
            what=f"the consumer lag of {worker}",
        )
        assert all(f'group="{group}"' in labels and 'partition="' in labels for labels in lag)
        assert all(value >= 0 for value in lag.values())
    assert "outbox_published_events_total" in metrics_of(stack, "case-api-outbox_relay")
    assert "partner_delivery_attempts_total" in metrics_of(stack, "partner-gateway-delivery")
