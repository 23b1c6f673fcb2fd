"""SMS through CM.com: the channel against a real CM stand-in process on loopback, CM's status reports parsed,
and the report route with its HTTP Basic credentials (docs/adr/0010-sms-provider.md)."""

import asyncio
import base64
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

import notifier.all_models
from devinfra.ports import free_port
from devinfra.receiver import WebhookReceiver
from devinfra.sms_provider import DEFAULT_PRODUCT_TOKEN, LocalSmsProvider
from notifier.channels.base import OutgoingMessage
from notifier.channels.sms_cm import (
    CmSmsChannel,
    DeliveryReport,
    MalformedDeliveryReport,
    cm_number,
    cm_reference,
    parse_delivery_report,
)
from notifier.config import Settings
from notifier.main import create_app
from notifier.notifications.models import Moment, Notification, Status
from notifier.sms_reports import router as sms_reports_router
from service_kit.clock import FixedClock
from service_kit.db import make_engine

REPORT_USER = "cm-reports"
REPORT_PASSWORD = "dev-change-me-sms-report-password"
REPORTS_PATH = "/v1/sms/delivery-reports"
SENT_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
# "ú" and "â" are not in GSM-7: CM's body type "auto" sends this as Unicode.
FRISIAN_BODY = "Jelle, it giet om jo wenning. Belje ús hjoed op 14 0511. Wy helpe jo fergees.\n"


def sms(recipient: str | None, *, notification_id: str | None = None, body: str = FRISIAN_BODY) -> OutgoingMessage:
    return OutgoingMessage(
        notification_id=notification_id or str(uuid.uuid4()),
        case_id=str(uuid.uuid4()),
        moment="M5",
        channel="sms",
        language="fy",
        subject="Oantinken: belje ús hjoed",
        body=body,
        recipient=recipient,
    )


def cm_report(reference: str, code: Any, error: Any = "0", description: str = "") -> dict[str, Any]:
    """A status report as CM's documentation shows its JSON format, with the placeholders filled in."""
    return {
        "messages": {
            "msg": {
                "received": "2026-03-02T10:30:07",
                "to": "0031612345678",
                "reference": reference,
                "status": {"code": code, "errorCode": error, "errorDescription": description},
                "operator": "20416",
            }
        }
    }


@pytest.fixture
def cm(tmp_path: Path) -> Iterator[LocalSmsProvider]:
    with LocalSmsProvider(tmp_path / "cm") as provider:
        yield provider


def channel_for(url: str, *, token: str = DEFAULT_PRODUCT_TOKEN, sender: str = "Proefdam", **kw: Any) -> CmSmsChannel:
    return CmSmsChannel(api_url=url, product_token=token, sender=sender, **kw)


# --- the number --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    ["06 1234 5678", "06-12345678", "+31 6 12345678", "+31 (0)6 1234 5678", "0031612345678", " 0031 6 1234.5678 "],
)
def test_dutch_mobile_numbers_become_cm_s_format(written: str) -> None:
    assert cm_number(written) == "0031612345678"


@pytest.mark.parametrize(
    "written",
    [
        None,
        "",
        "020 123 4567",
        "+32 470 12 34 56",
        "0612345",
        "061234567890",
        "6 12345678",
        "+31 20 1234567",
        "06-1234abcd",
    ],
)
def test_anything_but_a_dutch_mobile_number_is_refused(written: str | None) -> None:
    assert cm_number(written) is None


def test_the_reference_is_the_notification_id_in_cm_s_alphabet() -> None:
    notification_id = "3f2b8c1e-9a4d-4e2f-8b6a-0c1d2e3f4a5b"
    assert cm_reference(notification_id) == "3f2b8c1e9a4d4e2f8b6a0c1d2e3f4a5b"
    assert len(cm_reference("not a uuid but an id of 40 characters...")) == 32
    assert cm_reference("not a uuid") == cm_reference("not a uuid")


# --- the channel against the CM stand-in ---------------------------------------------------------------------


async def test_an_sms_arrives_at_the_cm_stand_in_with_number_sender_reference_and_text(cm: LocalSmsProvider) -> None:
    message = sms("+31 6 1234 5678")
    handover = await channel_for(cm.url).send(message)

    reference = message.notification_id.replace("-", "")
    assert handover.accepted, handover.reason
    assert handover.provider_reference == reference
    [received] = cm.messages()
    assert received["to"] == "0031612345678"
    assert received["from"] == "Proefdam"
    assert received["reference"] == reference
    assert received["content"] == FRISIAN_BODY.strip()
    assert received["body_type"] == "auto"
    assert received["parts"] == 2  # 79 Unicode characters: two parts of at most 67


async def test_an_invalid_number_is_refused_without_a_call(cm: LocalSmsProvider) -> None:
    handover = await channel_for(cm.url).send(sms("020 123 4567"))
    assert (handover.accepted, handover.permanent, handover.reason) == (False, True, "invalid_number")
    # Not even a gateway that does not exist is called.
    nowhere = await channel_for(f"http://127.0.0.1:{free_port()}/v1.0/message").send(sms(None))
    assert (nowhere.accepted, nowhere.permanent, nowhere.reason) == (False, True, "invalid_number")
    assert cm.messages() == []


async def test_a_gateway_that_is_down_is_a_temporary_failure() -> None:
    handover = await channel_for(f"http://127.0.0.1:{free_port()}/v1.0/message", timeout=2).send(sms("0612345678"))
    assert (handover.accepted, handover.permanent, handover.reason) == (False, False, "provider_unavailable")


async def test_a_gateway_that_does_not_answer_in_time_is_a_temporary_failure() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # connections are queued, never answered
        port = listener.getsockname()[1]
        handover = await channel_for(f"http://127.0.0.1:{port}/v1.0/message", timeout=0.5).send(sms("0612345678"))
    assert (handover.accepted, handover.permanent, handover.reason) == (False, False, "provider_unavailable")


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_a_busy_or_broken_gateway_is_a_temporary_failure(status: int) -> None:
    with WebhookReceiver() as gateway:
        gateway.status = status
        handover = await channel_for(f"{gateway.url}/v1.0/message").send(sms("0612345678"))
    assert (handover.accepted, handover.permanent, handover.reason) == (False, False, "provider_unavailable")


async def test_a_wrong_product_token_is_a_temporary_failure_of_our_configuration(cm: LocalSmsProvider) -> None:
    handover = await channel_for(cm.url, token="00000000-0000-0000-0000-000000000000").send(sms("0612345678"))
    assert (handover.accepted, handover.permanent, handover.reason) == (False, False, "provider_auth")
    assert cm.messages() == []


async def test_a_sender_cm_refuses_is_a_temporary_failure_of_our_configuration(cm: LocalSmsProvider) -> None:
    handover = await channel_for(cm.url, sender="Gemeente Proefdam").send(sms("0612345678"))
    assert (handover.accepted, handover.permanent, handover.reason) == (False, False, "provider_sender")
    assert cm.messages() == []


async def test_an_empty_message_is_refused_by_cm_permanently(cm: LocalSmsProvider) -> None:
    handover = await channel_for(cm.url).send(sms("0612345678", body="  \n"))
    assert (handover.accepted, handover.permanent, handover.reason) == (False, True, "message_invalid")


async def test_one_shared_client_serves_many_messages(cm: LocalSmsProvider) -> None:
    async with httpx.AsyncClient() as client:
        channel = channel_for(cm.url, client=client)
        handovers = await asyncio.gather(*(channel.send(sms(f"06123400{n:02d}")) for n in range(5)))
    assert all(handover.accepted for handover in handovers)
    assert sorted(m["to"] for m in cm.messages()) == [f"00316123400{n:02d}" for n in range(5)]


# CM's documented answers (developers.cm.com/messaging/docs/responses-errors-json) -> what the channel makes of them.
DOCUMENTED_ANSWERS = [
    (400, {"details": "No account found for the given authentication", "errorCode": 101, "messages": []},
     (False, False, "provider_auth")),
    (200, {"details": "Created 1 message(s)", "errorCode": 0, "messages": [
        {"to": "0031612345678", "status": "Accepted", "reference": "r", "parts": 1, "messageDetails": None,
         "messageErrorCode": 0}]}, (True, False, None)),
    (400, {"details": "Created 0 message(s)", "errorCode": 201, "messages": [
        {"to": "0031612345678", "status": "Rejected", "reference": "r", "parts": 0,
         "messageDetails": "Gsm '0044791112345a' is not a number.", "messageErrorCode": 303}]},
     (False, True, "invalid_number")),
    (400, {"details": "Created 0 message(s)", "errorCode": 201, "messages": [
        {"to": "0031612345678", "status": "Rejected", "reference": "r", "parts": 0,
         "messageDetails": "A body without content was found", "messageErrorCode": "304"}]},
     (False, True, "message_invalid")),
    (400, {"details": "Created 0 message(s)", "errorCode": 201, "messages": [
        {"to": "0031612345678", "status": "Rejected", "reference": "r", "parts": 0, "messageDetails": "Blacklisted",
         "messageErrorCode": 402}]}, (False, True, "number_blocked")),
    (400, {"details": "Insufficient balance", "errorCode": 102, "messages": []}, (False, False, "provider_balance")),
    (500, {"details": "Internal server error", "errorCode": 500, "messages": []},
     (False, False, "provider_unavailable")),
    (403, {"details": "Forbidden"}, (False, False, "provider_auth")),
]  # fmt: skip


@pytest.mark.parametrize(("status", "answer", "expected"), DOCUMENTED_ANSWERS)
async def test_cm_s_documented_answers_are_mapped(
    status: int, answer: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=answer))
    async with httpx.AsyncClient(transport=transport) as client:
        handover = await channel_for("https://gw.messaging.cm.com/v1.0/message", client=client).send(sms("0612345678"))
    assert (handover.accepted, handover.permanent, handover.reason) == expected


async def test_the_request_is_cm_s_json_with_the_token_in_header_and_body() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"details": "Created 1 message(s)", "errorCode": 0, "messages": []})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        message = sms("0612345678")
        await channel_for("https://gw.messaging.cm.com/v1.0/message", token="t-1", client=client).send(message)
    [request] = seen
    assert request.headers["X-CM-PRODUCTTOKEN"] == "t-1"
    assert json.loads(request.content) == {
        "messages": {
            "authentication": {"producttoken": "t-1"},
            "msg": [
                {
                    "from": "Proefdam",
                    "to": [{"number": "0031612345678"}],
                    "body": {"type": "auto", "content": FRISIAN_BODY.strip()},
                    "reference": message.notification_id.replace("-", ""),
                    "minimumNumberOfMessageParts": 1,
                    "maximumNumberOfMessageParts": 8,
                }
            ],
        }
    }


# --- status reports --------------------------------------------------------------------------------------------


def test_a_delivered_report_is_delivered() -> None:
    [report] = parse_delivery_report(cm_report("abc123", "2"))
    assert report == DeliveryReport("abc123", delivered=True, permanent=False, reason_code=None, provider_status=2)
    assert report.final


@pytest.mark.parametrize(
    ("code", "error", "permanent", "reason"),
    [
        ("3", "23", True, "invalid_number"),  # an invalid or permanently barred number
        ("3", "24", False, "subscriber_absent"),  # the phone is off or out of reach
        ("3", "8", False, "expired"),
        (3, 27, True, "handset_incompatible"),  # numbers instead of strings are taken too
        ("3", "", False, "failed"),  # failed without a known cause: the next attempt may reach the phone
        ("1", "0", True, "rejected"),  # rejected by CM or the operator: it will not be sent
        ("1", "28", True, "spam_suspected"),
    ],
)
def test_failed_and_rejected_reports_say_whether_trying_again_can_help(
    code: Any, error: Any, permanent: bool, reason: str
) -> None:
    [report] = parse_delivery_report(cm_report("abc123", code, error, "description"))
    assert (report.delivered, report.permanent, report.reason_code, report.final) == (False, permanent, reason, True)


def test_an_accepted_report_is_not_final() -> None:
    [report] = parse_delivery_report(cm_report("abc123", "0"))
    assert not report.final
    assert not report.delivered


def test_several_reports_in_one_body_are_all_read() -> None:
    first, second = cm_report("a1", "2"), cm_report("b2", "3", "23")
    payload = {"messages": {"msg": [first["messages"]["msg"], second["messages"]["msg"]]}}
    assert [(r.reference, r.delivered, r.permanent) for r in parse_delivery_report(payload)] == [
        ("a1", True, False),
        ("b2", False, True),
    ]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "messages"),
        ({"msg": {}}, "messages"),
        ({"messages": {}}, "messages.msg"),
        ({"messages": {"msg": []}}, "messages.msg"),
        ({"messages": {"msg": "2"}}, "messages.msg"),
        ({"messages": {"msg": {"status": {"code": "2"}}}}, "messages.msg.reference"),
        ({"messages": {"msg": {"reference": "a", "status": "2"}}}, "messages.msg.status"),
        ({"messages": {"msg": {"reference": "a", "status": {"code": "delivered"}}}}, "messages.msg.status.code"),
        ({"messages": {"msg": {"reference": "a", "status": {"code": "3", "errorCode": "x"}}}},
         "messages.msg.status.errorCode"),
        ({"messages": {"msg": [cm_report("a", "2")["messages"]["msg"], {"reference": "b"}]}},
         "messages.msg[1].status"),
    ],
)  # fmt: skip
def test_a_malformed_report_names_its_field(payload: Any, field: str) -> None:
    with pytest.raises(MalformedDeliveryReport) as raised:
        parse_delivery_report(payload)
    assert raised.value.field == field


async def test_the_stand_in_posts_cm_format_reports_with_the_url_s_credentials(tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        host = receiver.url.removeprefix("http://")
        report_url = f"http://{REPORT_USER}:{REPORT_PASSWORD}@{host}{REPORTS_PATH}"
        with LocalSmsProvider(tmp_path / "cm", report_url=report_url, report_delay=0.05) as cm:
            ok, fails = sms("0612345678"), sms("0612349999")
            for message in (ok, fails):
                assert (await channel_for(cm.url).send(message)).accepted
            outcomes = await asyncio.to_thread(cm.wait_for_reports, 2)
        received = list(receiver.received)
    assert {outcome["http_status"] for outcome in outcomes} == {200}
    expected_auth = "Basic " + base64.b64encode(f"{REPORT_USER}:{REPORT_PASSWORD}".encode()).decode()
    assert {r.path for r in received} == {REPORTS_PATH}
    assert {r.headers["authorization"] for r in received} == {expected_auth}
    reports = {report.reference: report for r in received for report in parse_delivery_report(json.loads(r.body))}
    assert reports[cm_reference(ok.notification_id)].delivered
    failed = reports[cm_reference(fails.notification_id)]
    assert (failed.delivered, failed.permanent, failed.reason_code) == (False, True, "invalid_number")


# --- the report route ------------------------------------------------------------------------------------------


def with_report_route(app: FastAPI) -> FastAPI:
    """The notifier's app with the report route (main.py registers it once lifecycle work lands)."""
    if not any(getattr(route, "path", None) == REPORTS_PATH for route in app.routes):
        app.include_router(sms_reports_router)
    return app


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    """An embedded SQLite database of this test with the notifier's whole schema, as `make run` uses."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifier.sqlite3'}"
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(notifier.all_models.metadata.create_all)
    await engine.dispose()
    return url


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    app = with_report_route(create_app(Settings(database_url=database_url), clock=FixedClock(SENT_AT)))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier.test") as client:
        yield client


async def sent_sms(app: FastAPI, *, moment: Moment = Moment.countdown) -> Notification:
    """A notification handed to CM (status sent, CM's reference stored), as the dispatcher leaves it."""
    notification_id = str(uuid.uuid4())
    notification = Notification(
        id=notification_id,
        case_id=str(uuid.uuid4()),
        moment=moment,
        occasion="T-7:2026-03-09",
        channel="sms",
        language="nl",
        status=Status.sent,
        attempts=1,
        caused_by_event=str(uuid.uuid4()),
        due_at=SENT_AT,
        provider_reference=cm_reference(notification_id),
        created_at=SENT_AT,
        sent_at=SENT_AT,
    )
    async with app.state.session_factory() as session, session.begin():
        session.add(notification)
    return notification


async def notifications_of(app: FastAPI, case_id: str) -> list[Notification]:
    async with app.state.session_factory() as session:
        query = select(Notification).where(Notification.case_id == case_id).order_by(Notification.created_at)
        return list((await session.scalars(query)).all())


AUTH = (REPORT_USER, REPORT_PASSWORD)


@pytest.mark.parametrize(
    "auth", [None, (REPORT_USER, "wrong"), ("someone", REPORT_PASSWORD), ("", ""), (REPORT_PASSWORD, REPORT_USER)]
)
async def test_reports_without_the_right_basic_credentials_are_401(client: httpx.AsyncClient, auth: Any) -> None:
    response = await client.post(REPORTS_PATH, json=cm_report("abc", "2"), auth=auth)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Basic realm="sms-delivery-reports"')
    assert response.json()["status"] == 401


async def test_a_bearer_token_is_not_a_report_credential(client: httpx.AsyncClient) -> None:
    response = await client.post(REPORTS_PATH, json=cm_report("abc", "2"), headers={"Authorization": "Bearer x"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"<MESSAGES><MSG/></MESSAGES>", "body"),
        (b"", "body"),
        (json.dumps({"messages": {"msg": {"status": {"code": "2"}}}}).encode(), "messages.msg.reference"),
        (json.dumps({"messages": {"msg": {"reference": "a", "status": {"code": "x"}}}}).encode(),
         "messages.msg.status.code"),
    ],
)  # fmt: skip
async def test_a_malformed_report_is_400_naming_the_field(
    client: httpx.AsyncClient, content: bytes, field: str
) -> None:
    response = await client.post(REPORTS_PATH, content=content, auth=AUTH, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field


async def test_a_report_of_an_unknown_reference_is_200_and_counted(client: httpx.AsyncClient) -> None:
    response = await client.post(REPORTS_PATH, json=cm_report("0123456789abcdef0123456789abcdef", "2"), auth=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 1, "applied": 0, "unknown_reference": 1, "not_final": 0}
    metrics = (await client.get("/metrics")).text
    assert 'sms_delivery_reports_total{outcome="unknown_reference"} 1.0' in metrics


async def test_an_accepted_report_changes_nothing(app: FastAPI, client: httpx.AsyncClient) -> None:
    notification = await sent_sms(app)
    response = await client.post(REPORTS_PATH, json=cm_report(notification.provider_reference or "", "0"), auth=AUTH)
    assert response.json() == {"received": 1, "applied": 0, "unknown_reference": 0, "not_final": 1}
    [unchanged] = await notifications_of(app, notification.case_id)
    assert unchanged.status == Status.sent


async def test_a_delivered_report_flips_the_notification_to_delivered(app: FastAPI, client: httpx.AsyncClient) -> None:
    notification = await sent_sms(app)
    response = await client.post(REPORTS_PATH, json=cm_report(notification.provider_reference or "", "2"), auth=AUTH)
    assert response.json() == {"received": 1, "applied": 1, "unknown_reference": 0, "not_final": 0}
    [delivered] = await notifications_of(app, notification.case_id)
    assert (delivered.status, delivered.delivered_at) == (Status.delivered, SENT_AT)

    # CM repeats a report it thinks we missed: nothing changes.
    again = await client.post(REPORTS_PATH, json=cm_report(notification.provider_reference or "", "2"), auth=AUTH)
    assert again.json()["applied"] == 1
    [still] = await notifications_of(app, notification.case_id)
    assert still.status == Status.delivered


async def test_a_report_of_an_invalid_number_fails_permanently_and_falls_back(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    notification = await sent_sms(app)
    report = cm_report(notification.provider_reference or "", "3", "23", "Invalid MSISDN")
    response = await client.post(REPORTS_PATH, json=report, auth=AUTH)
    assert response.json()["applied"] == 1
    failed, *fallbacks = await notifications_of(app, notification.case_id)
    assert (failed.id, failed.status, failed.reason) == (notification.id, Status.permanent_failure, "invalid_number")
    assert [(f.status, f.fallback_of) for f in fallbacks] == [(Status.requested, notification.id)]
    assert fallbacks[0].channel != "sms"


async def test_a_report_of_an_absent_phone_is_a_temporary_failure(app: FastAPI, client: httpx.AsyncClient) -> None:
    notification = await sent_sms(app)
    report = cm_report(notification.provider_reference or "", "3", "24")
    await client.post(REPORTS_PATH, json=report, auth=AUTH)
    [retried] = await notifications_of(app, notification.case_id)
    assert (retried.status, retried.reason) == (Status.temporary_failure, "subscriber_absent")
    assert retried.due_at > SENT_AT


async def test_a_report_finds_a_notification_whose_hand_over_was_not_committed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    notification = await sent_sms(app)
    async with app.state.session_factory() as session, session.begin():
        stored = await session.get(Notification, notification.id)
        assert stored is not None
        stored.status, stored.provider_reference, stored.sent_at = Status.sending, None, None
    response = await client.post(REPORTS_PATH, json=cm_report(cm_reference(notification.id), "2"), auth=AUTH)
    assert response.json()["applied"] == 1
    [delivered] = await notifications_of(app, notification.case_id)
    assert delivered.status == Status.delivered


# --- the whole loop: channel -> CM stand-in -> status report -> the notifier over HTTP ----------------------------


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.025)
        assert server.started, "the notifier did not start"
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_cm_s_reports_reach_the_notifier_and_settle_its_notifications(database_url: str, tmp_path: Path) -> None:
    app = with_report_route(create_app(Settings(database_url=database_url), clock=FixedClock(SENT_AT)))
    port = free_port()
    report_url = f"http://{REPORT_USER}:{REPORT_PASSWORD}@127.0.0.1:{port}{REPORTS_PATH}"
    async with serving(app, port):
        reached, unreachable = await sent_sms(app), await sent_sms(app)
        with LocalSmsProvider(tmp_path / "cm", report_url=report_url, report_delay=0.05) as cm:
            channel = channel_for(cm.url)
            # The same hand-over the dispatcher makes: CM's reference is what the notification stores.
            assert (await channel.send(sms("0612345678", notification_id=reached.id))).accepted
            assert (await channel.send(sms("0612349999", notification_id=unreachable.id))).accepted
            outcomes = await asyncio.to_thread(cm.wait_for_reports, 2)
        assert {outcome["http_status"] for outcome in outcomes} == {200}
        [delivered] = await notifications_of(app, reached.case_id)
        failed, fallback = await notifications_of(app, unreachable.case_id)
    assert delivered.status == Status.delivered
    assert (failed.status, failed.reason) == (Status.permanent_failure, "invalid_number")
    assert (fallback.status, fallback.fallback_of) == (Status.requested, unreachable.id)


def test_an_unknown_path_of_the_stand_in_is_404(cm: LocalSmsProvider) -> None:
    response = httpx.post(cm.url.replace("/v1.0/message", "/v1.0/other"), json={})
    assert response.status_code == 404


def test_the_stand_in_stops_by_its_pid(tmp_path: Path) -> None:
    provider = LocalSmsProvider(tmp_path / "cm").start()
    pid = provider.pid
    assert pid is not None
    provider.stop()
    assert provider.pid is None
    with pytest.raises(httpx.ConnectError):
        httpx.post(provider.url, json={}, timeout=1)
