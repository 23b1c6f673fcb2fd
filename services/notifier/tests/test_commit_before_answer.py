"""Issue 15's first bug: the notifier answered a resend or a CM delivery report 2xx before its commit, so a commit
that failed lost what the answer said was stored. The real app on the real PostgreSQL, whose commits of the table
written are refused (devinfra.commits_refused): the answer must not be 2xx, and nothing is half-stored."""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from devinfra.devkey import DevKey
from devinfra.ports import free_port
from notifier.channels.sms_cm import cm_reference
from notifier.config import Settings
from notifier.main import create_app
from notifier.notifications.models import Moment, Notification, Status
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

AT = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
TEAM = "team-noord"
REPORT_AUTH = ("cm-reports", "dev-change-me-sms-report-password")
RefuseCommits = Callable[[str, str], AbstractAsyncContextManager[None]]


@pytest.fixture
async def app(database_url: str, dev_key: DevKey, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        oidc_jwks_url=str(dev_key.jwks_path),
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # nothing listens: the API never needs Kafka
        outbox_dir=tmp_path / "outbox",
    )
    app = create_app(settings, clock=FixedClock(AT))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: a crash answers 500 as under uvicorn, and a crash after the answer stays unseen
    # by the client, as it would be.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier.test") as client:
        yield client


async def test_a_resend_whose_commit_fails_is_not_answered_201(
    client: httpx.AsyncClient,
    database_url: str,
    dev_key: DevKey,
    apply_events: Any,
    events: Any,
    dispatcher: Any,
    helpers: Any,
    ledger: Any,
    refuse_commits: RefuseCommits,
) -> None:
    case = events.opened(team=TEAM)
    await apply_events(case)
    await dispatcher.run_once(helpers.opened_at)
    original = {n.channel: n for n in await ledger.notifications(case.subject)}["email"]
    token = dev_key.mint_token(["outreach_worker"], team=TEAM, subject="caseworker-7")

    async with refuse_commits(database_url, "notification"):
        answer = await client.post(
            f"/v1/notifications/{original.id}/resend",
            json={"reason": "household asked for the e-mail again"},
            headers={"authorization": f"Bearer {token}"},
        )

    assert answer.status_code == 500, answer.text
    assert [n.resend_of for n in await ledger.notifications(case.subject)].count(original.id) == 0
    assert [e for e in await ledger.outbox_events("notification.requested") if e.data.get("resend_of")] == []


async def test_a_delivery_report_whose_commit_fails_is_not_answered_200(
    app: FastAPI, client: httpx.AsyncClient, database_url: str, ledger: Any, refuse_commits: RefuseCommits
) -> None:
    """CM sends a report again unless it was answered 2xx: a lost commit must not be answered so."""
    notification_id = str(uuid.uuid4())
    async with app.state.session_factory() as session, session.begin():
        session.add(
            Notification(
                id=notification_id,
                case_id=str(uuid.uuid4()),
                moment=Moment.countdown,
                occasion="T-7:2026-03-09",
                channel="sms",
                language="nl",
                status=Status.sent,
                attempts=1,
                caused_by_event=str(uuid.uuid4()),
                due_at=AT,
                provider_reference=cm_reference(notification_id),
                created_at=AT,
                sent_at=AT,
            )
        )
    report = {
        "messages": {"msg": {"reference": cm_reference(notification_id), "status": {"code": "2", "errorCode": "0"}}}
    }

    async with refuse_commits(database_url, "notification"):
        answer = await client.post("/v1/sms/delivery-reports", json=report, auth=REPORT_AUTH)

    assert answer.status_code == 500, answer.text
    async with app.state.session_factory() as session:
        status = await session.scalar(select(Notification.status).where(Notification.id == notification_id))
    assert status is Status.sent  # not delivered: CM will report it again

    answer = await client.post("/v1/sms/delivery-reports", json=report, auth=REPORT_AUTH)  # CM's repeat
    assert answer.status_code == 200, answer.text
    assert (await ledger.notification(notification_id)).status is Status.delivered
