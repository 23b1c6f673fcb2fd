"""ep-ops commands against case-api's and the gateway's real PostgreSQL databases: backlog, deliveries resend,
retention run."""

import asyncio
import base64
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from case_api_fixtures import made_up_household, made_up_signal
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.cases.models import Case
from case_api.config import Settings as CaseApiSettings
from case_api.db import OutboxRecord
from case_api.households.models import Household
from case_api.main import create_app
from case_api.migrate import SCRIPT_LOCATION as CASE_API_MIGRATIONS
from devinfra.devkey import DevKey
from devinfra.receiver import WebhookReceiver
from ep_ops.cli import main
from ep_ops.deliveries import resend
from ep_ops.outbox import backlog
from ep_ops.retention import run_retention
from partner_gateway.config import Settings as GatewaySettings
from partner_gateway.deliveries.models import Delivery, DeliveryAttempt, DeliveryStatus
from partner_gateway.deliveries.service import deliver, due_deliveries
from partner_gateway.inbound.repository import InboundRepository
from partner_gateway.migrate import SCRIPT_LOCATION as GATEWAY_MIGRATIONS
from partner_gateway.partners import service as registry
from partner_gateway.partners.models import PartnerKind
from partner_gateway.partners.schemas import PartnerCreate, SubscriptionCreate
from service_kit.clock import FixedClock
from service_kit.db import make_engine, make_session_factory
from service_kit.migrations import upgrade_to_head

pytestmark = pytest.mark.postgres
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def case_api_url(postgres_url_factory: Callable[[str], str]) -> str:
    url = postgres_url_factory("ops_case_api")
    await asyncio.to_thread(upgrade_to_head, CASE_API_MIGRATIONS, url)
    return url


@pytest.fixture
async def gateway_url(postgres_url_factory: Callable[[str], str]) -> str:
    url = postgres_url_factory("ops_gateway")
    await asyncio.to_thread(upgrade_to_head, GATEWAY_MIGRATIONS, url)
    return url


async def _sessions(url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def case_api_sessions(case_api_url: str) -> AsyncIterator[Sessions]:
    async for sessions in _sessions(case_api_url):
        yield sessions


@pytest.fixture
async def gateway_sessions(gateway_url: str) -> AsyncIterator[Sessions]:
    async for sessions in _sessions(gateway_url):
        yield sessions


def case_api_settings(url: str, **overrides: object) -> CaseApiSettings:
    return CaseApiSettings(_env_file=None, database_url=url, **overrides)  # type: ignore[call-arg]


async def add_outbox_rows(sessions: Sessions, count: int, *, created_at: datetime) -> None:
    async with sessions() as session, session.begin():
        for _ in range(count):
            row = OutboxRecord()
            row.event_id = str(uuid.uuid4())
            row.event_type = "nl.eviction-prevention.case.opened"
            row.topic = "eviction-prevention.case-events.v1"
            row.key = str(uuid.uuid4())
            row.payload = b"{}"
            row.headers = {}
            row.created_at = created_at
            session.add(row)


async def test_backlog_counts_the_unpublished_rows_and_the_oldest_age(
    case_api_url: str, case_api_sessions: Sessions
) -> None:
    empty = await backlog(case_api_settings(case_api_url))
    assert empty.rows[0]["unpublished"] == 0
    assert "empty" in empty.summary

    now = datetime.now(UTC)
    await add_outbox_rows(case_api_sessions, 2, created_at=now - timedelta(minutes=5))
    await add_outbox_rows(case_api_sessions, 1, created_at=now - timedelta(minutes=1))
    async with case_api_sessions() as session, session.begin():
        published = OutboxRecord(
            event_id=str(uuid.uuid4()),
            event_type="x",
            topic="t",
            key="k",
            payload=b"{}",
            headers={},
            created_at=now - timedelta(hours=1),
            published_at=now,
        )
        session.add(published)

    report = await backlog(case_api_settings(case_api_url), now=now)
    assert report.rows[0]["unpublished"] == 3
    assert report.rows[0]["oldest_age_seconds"] == pytest.approx(300, abs=1)
    assert "3 outbox row(s)" in report.to_table()


def test_the_cli_reads_case_api_settings_from_the_environment(
    case_api_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASE_API_DATABASE_URL", case_api_url)
    assert main(["--json", "backlog"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rows"][0]["unpublished"] == 0


async def register(sessions: Sessions, partner_id: str, callback_url: str = "http://127.0.0.1:9/hooks") -> str:
    clock = FixedClock(datetime.now(UTC))
    async with sessions() as session, session.begin():
        await registry.register_partner(
            session,
            request=PartnerCreate(
                id=partner_id,
                name="Test corporation",
                kind=PartnerKind.housing_corporation,
                outbound_secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            ),
            clock=clock,
        )
        subscription = await registry.subscribe(
            session,
            partner_id=partner_id,
            request=SubscriptionCreate.model_validate({"event_types": ["case.opened"], "callback_url": callback_url}),
            clock=clock,
        )
        return subscription.id


async def add_delivery(
    sessions: Sessions, *, partner_id: str, subscription_id: str, status: DeliveryStatus, created_at: datetime
) -> str:
    """A delivery as the worker leaves it: its attempts in the delivery log, numbered 1..attempts."""
    attempts = 10 if status is DeliveryStatus.gave_up else 1
    delivery = Delivery(
        id=str(uuid.uuid4()),
        subscription_id=subscription_id,
        partner_id=partner_id,
        case_id=str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        event_type="case.opened",
        sequence=1,
        payload=b"{}",
        status=status,
        attempts=attempts,
        next_attempt_at=created_at,
        last_status_code=503,
        created_at=created_at,
        gave_up_reason="retries_exhausted" if status is DeliveryStatus.gave_up else None,
    )
    async with sessions() as session, session.begin():
        session.add(delivery)
        await session.flush()
        for number in range(1, attempts + 1):
            code = 200 if status is DeliveryStatus.delivered else 503
            session.add(
                DeliveryAttempt(delivery_id=delivery.id, attempt=number, at=created_at, status_code=code, duration_ms=5)
            )
    return delivery.id


async def test_deliveries_resend_requeues_given_up_deliveries_of_that_partner_only(
    gateway_url: str, gateway_sessions: Sessions
) -> None:
    subscription = await register(gateway_sessions, "corporation-a")
    other = await register(gateway_sessions, "corporation-b")
    long_ago = datetime.now(UTC) - timedelta(days=5)
    gave_up = await add_delivery(
        gateway_sessions,
        partner_id="corporation-a",
        subscription_id=subscription,
        status=DeliveryStatus.gave_up,
        created_at=long_ago,
    )
    older = await add_delivery(
        gateway_sessions,
        partner_id="corporation-a",
        subscription_id=subscription,
        status=DeliveryStatus.gave_up,
        created_at=long_ago - timedelta(days=30),
    )
    delivered = await add_delivery(
        gateway_sessions,
        partner_id="corporation-a",
        subscription_id=subscription,
        status=DeliveryStatus.delivered,
        created_at=long_ago,
    )
    elsewhere = await add_delivery(
        gateway_sessions,
        partner_id="corporation-b",
        subscription_id=other,
        status=DeliveryStatus.gave_up,
        created_at=long_ago,
    )
    settings = GatewaySettings(_env_file=None, database_url=gateway_url)  # type: ignore[call-arg]
    since = long_ago - timedelta(days=1)

    dry = await resend(settings, partner_id="corporation-a", since=since, dry_run=True)
    assert [row["delivery"] for row in dry.rows] == [gave_up]

    now = datetime.now(UTC)
    report = await resend(settings, partner_id="corporation-a", since=since, now=now)
    assert [row["delivery"] for row in report.rows] == [gave_up]
    assert report.totals["requeued"] == 1

    async with gateway_sessions() as session:
        by_id = {d.id: d for d in (await session.scalars(select(Delivery))).all()}
    assert by_id[gave_up].status is DeliveryStatus.pending
    assert by_id[gave_up].next_attempt_at == now
    assert (by_id[gave_up].attempts, by_id[gave_up].schedule_start, by_id[gave_up].gave_up_reason) == (10, 10, None)
    assert by_id[older].status is DeliveryStatus.gave_up  # before --since
    assert by_id[delivered].status is DeliveryStatus.delivered
    assert by_id[elsewhere].status is DeliveryStatus.gave_up

    again = await resend(settings, partner_id="corporation-a", since=since)
    assert again.rows == []


async def test_a_resent_delivery_is_sent_by_the_delivery_worker_with_its_next_attempt_number(
    gateway_url: str, gateway_sessions: Sessions
) -> None:
    """Issue 15: resend used to reset attempts to 0, so the worker's next attempt (number 1) collided with the
    delivery log and rolled back the worker's whole round, every round."""
    settings = GatewaySettings(_env_file=None, database_url=gateway_url)  # type: ignore[call-arg]
    with WebhookReceiver() as partner:
        subscription = await register(gateway_sessions, "corporation-a", callback_url=partner.url + "/hooks")
        gave_up = await add_delivery(
            gateway_sessions,
            partner_id="corporation-a",
            subscription_id=subscription,
            status=DeliveryStatus.gave_up,
            created_at=datetime.now(UTC) - timedelta(days=5),
        )
        async with gateway_sessions() as session, session.begin():
            # The corporation's own case (its arrears message opened it): a corporation sees its own cases only.
            case_id = (await session.get_one(Delivery, gave_up)).case_id
            await InboundRepository(session).map_reference(
                partner_id="corporation-a", reference="HUUR-2026-0001", case_id=case_id, now=datetime.now(UTC)
            )
        assert (await resend(settings, partner_id="corporation-a")).totals["requeued"] == 1

        clock = FixedClock(datetime.now(UTC))
        # One round of the delivery worker (workers/delivery.py): the due deliveries in one transaction.
        async with httpx.AsyncClient(timeout=10) as http, gateway_sessions() as session, session.begin():
            due = await due_deliveries(session, now=clock.now(), limit=100)
            assert [d.id for d in due] == [gave_up]
            assert await deliver(session, delivery=due[0], http=http, clock=clock, settings=settings)

        assert [r.headers["webhook-id"] for r in partner.received] == [gave_up]
    async with gateway_sessions() as session:
        delivery = await session.get(Delivery, gave_up)
        numbers = select(DeliveryAttempt.attempt).where(DeliveryAttempt.delivery_id == gave_up)
        log = (await session.scalars(numbers)).all()
    assert delivery is not None
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.delivered, 11)
    assert sorted(log) == list(range(1, 12))


async def test_retention_run_erases_a_case_closed_long_ago(
    case_api_url: str, case_api_sessions: Sessions, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dev_key = DevKey.ensure(tmp_path_factory.mktemp("ops-dev-oidc"))
    settings = case_api_settings(case_api_url, oidc_jwks_url=str(dev_key.jwks_path))
    app = create_app(settings, FixedClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC)))
    token = dev_key.mint_token(["team_lead"], team="team-noord")
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport, base_url="http://case-api", headers={"Authorization": f"Bearer {token}"}
        ) as client,
    ):
        body = {"team": "team-noord", "household": made_up_household(postcode="8981 AB"), "signal": made_up_signal()}
        opened = await client.post("/v1/signals", json=body)
        assert opened.status_code in (200, 201), opened.text
        case_id = opened.json()["case_id"]
        attempt = {"channel": "home_visit", "reached": True, "note": "made-up note"}
        assert (await client.post(f"/v1/cases/{case_id}/contact-attempts", json=attempt)).status_code == 201
        closed = await client.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert closed.status_code == 200, closed.text
    async with case_api_sessions() as session, session.begin():
        # Closed three years ago by the real clock: the retention period of R18 (two years) is over.
        await session.execute(
            update(Case).where(Case.id == case_id).values(closed_at=datetime.now(UTC) - timedelta(days=3 * 365))
        )

    report = await run_retention(settings)
    assert report.totals["erased_cases"] == 1

    async with case_api_sessions() as session:
        case = (await session.scalars(select(Case).where(Case.id == case_id))).one()
        household = await session.get(Household, case.household_id)
    assert case.erased_at is not None
    assert household is not None
    assert household.street == ""
    assert (await run_retention(settings)).totals["erased_cases"] == 0
