"""Fixtures of the partner gateway's tests: a migrated database on the session's real PostgreSQL, partners
registered through the registry's own service, and a topic of the test's own on the session's real broker."""

import asyncio
import base64
import contextlib
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import RecordMetadata
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from case_api.config import Settings as CaseApiSettings
from case_api.main import create_app as create_case_api
from devinfra.devkey import DevKey
from devinfra.ports import free_port
from devinfra.stack import Child
from eviction_schemas.envelope import STRUCTURED_CONTENT_TYPE, CloudEvent, dlq_topic, make_event
from eviction_schemas.registry import load_sample, validate_cloud_event
from partner_gateway.config import Settings
from partner_gateway.db import ProcessedEvent
from partner_gateway.deliveries.models import Delivery
from partner_gateway.inbound.case_api import CaseApi, TokenFile
from partner_gateway.inbound.repository import InboundRepository
from partner_gateway.main import create_app
from partner_gateway.migrate import SCRIPT_LOCATION
from partner_gateway.partners import service as registry
from partner_gateway.partners.models import Partner, PartnerKind, Subscription
from partner_gateway.partners.schemas import PartnerCreate, SubscriptionCreate
from partner_gateway.workers.inbound import process_due
from service_kit.clock import FixedClock
from service_kit.consumer import EventConsumer
from service_kit.db import make_engine, make_session_factory
from service_kit.migrations import upgrade_to_head
from service_kit.outbox import make_producer
from service_kit.settings import DEFAULT_OIDC_AUDIENCE, DEVELOPMENT_OIDC_ISSUER, DEVELOPMENT_OIN

Sessions = async_sessionmaker[AsyncSession]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def case_event(case_id: str | None = None, *, sequence: int = 1, event_name: str = "case.opened") -> CloudEvent:
    """A case event as case-api publishes it: the golden sample's data, for this case."""
    case_id = case_id or str(uuid.uuid4())
    data = load_sample(event_name)["data"]
    if "case_id" in data:
        data["case_id"] = case_id
    event = make_event(
        event=event_name,
        source_service="case-api",
        oin=DEVELOPMENT_OIN,
        subject=case_id,
        sequence=sequence,
        time=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        data=data,
    )
    validate_cloud_event(event)  # a test event that broke the contract would prove nothing
    return event


@pytest.fixture
def admin(dev_key: DevKey) -> dict[str, str]:
    """The Authorization header of a made-up administrator (the registry and delivery log need role admin)."""
    return {"authorization": f"Bearer {dev_key.mint_token(['admin'], team=None, subject='admin-1')}"}


@pytest.fixture
def new_case_opened() -> Callable[..., CloudEvent]:
    return case_event


@pytest.fixture
def new_case_event() -> Callable[..., CloudEvent]:
    """`new_case_event(event_name="case.closed")`: a case event of any type, from its golden sample."""
    return case_event


@pytest.fixture
def clock() -> FixedClock:
    # Close to the real time: Standard Webhooks' verify() refuses timestamps more than 5 minutes away.
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def database_url(postgres_url_factory: Callable[[str], str]) -> str:
    """A fresh PostgreSQL database of this test, migrated to the newest schema."""
    url = postgres_url_factory("gateway_test")
    await asyncio.to_thread(upgrade_to_head, SCRIPT_LOCATION, url)
    return url


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


@dataclass
class Registry:
    """Registers partners and subscriptions through the registry's service, one transaction each."""

    sessions: Sessions
    clock: FixedClock

    async def partner(
        self,
        kind: PartnerKind,
        *,
        event_types: list[str] | None = None,
        callback_url: str = "http://127.0.0.1:9/hooks",
        partner_id: str | None = None,
    ) -> tuple[Partner, Subscription | None]:
        async with self.sessions() as session, session.begin():
            partner = await registry.register_partner(
                session,
                request=PartnerCreate(
                    id=partner_id or f"{kind.value.replace('_', '-')}-{uuid.uuid4().hex[:6]}",
                    name=f"Test {kind.value}",
                    kind=kind,
                    outbound_secret=new_secret(),
                ),
                clock=self.clock,
            )
            subscription = None
            if event_types is not None:
                subscription = await registry.subscribe(
                    session,
                    partner_id=partner.id,
                    request=SubscriptionCreate.model_validate(
                        {"event_types": event_types, "callback_url": callback_url}
                    ),
                    clock=self.clock,
                )
        return partner, subscription

    async def subscribe(self, partner: Partner, event_types: list[str], callback_url: str) -> Subscription:
        async with self.sessions() as session, session.begin():
            return await registry.subscribe(
                session,
                partner_id=partner.id,
                request=SubscriptionCreate.model_validate({"event_types": event_types, "callback_url": callback_url}),
                clock=self.clock,
            )

    async def raw_subscription(self, partner: Partner, event_types: list[str]) -> Subscription:
        """A subscription stored without the registry's checks (as an old row or a hand edit would be): fan_out
        must still hold to the kind's allow-list."""
        async with self.sessions() as session, session.begin():
            subscription = Subscription(
                id=str(uuid.uuid4()),
                partner_id=partner.id,
                event_types=event_types,
                callback_url="http://127.0.0.1:9/raw",
                active=True,
                created_at=self.clock.now(),
            )
            session.add(subscription)
        return subscription

    async def map_case(self, partner: Partner | str, case_id: str, reference: str | None = None) -> None:
        """Tie a case to a partner as the inbound worker does when the partner's message opens or joins it."""
        partner_id = partner if isinstance(partner, str) else partner.id
        async with self.sessions() as session, session.begin():
            await InboundRepository(session).map_reference(
                partner_id=partner_id,
                reference=reference or f"REF-{uuid.uuid4().hex[:8]}",
                case_id=case_id,
                now=self.clock.now(),
            )

    async def deliveries(self) -> list[Delivery]:
        async with self.sessions() as session:
            query = select(Delivery).order_by(Delivery.partner_id, Delivery.case_id, Delivery.sequence)
            return list((await session.scalars(query)).all())

    async def processed(self) -> list[tuple[str, str, str]]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(ProcessedEvent.source, ProcessedEvent.event_id, ProcessedEvent.consumer_group)
            )
            return [(source, event_id, group) for source, event_id, group in rows.all()]


@pytest.fixture
def partners(sessions: Sessions, clock: FixedClock) -> Registry:
    return Registry(sessions, clock)


# --- Kafka ---------------------------------------------------------------------------------------------


async def eventually(condition: Callable[[], Awaitable[object]], *, what: str, timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await condition()
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass(frozen=True)
class Stream:
    """A topic of this test only, with its consumer group and that group's dead-letter topic."""

    bootstrap: str
    topic: str
    group: str


@pytest.fixture
async def stream(kafka_bootstrap: str) -> Stream:
    suffix = uuid.uuid4().hex[:10]
    stream = Stream(kafka_bootstrap, f"test.case-events.{suffix}", f"gateway-test-{suffix}")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(stream.topic, num_partitions=3, replication_factor=1),
                NewTopic(dlq_topic(stream.topic, stream.group), num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        await admin.close()
    return stream


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(kafka_bootstrap, client_id="gateway-tests")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


class RecordingConsumer(EventConsumer):
    """The real EventConsumer, noting which records it has finished with."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[int, int]] = []
        self._task: asyncio.Task[None] | None = None

    async def process(self, record: ConsumerRecord[Any, Any]) -> None:
        await super().process(record)
        self.seen.append((record.partition, record.offset))

    async def processed(self, meta: RecordMetadata) -> None:
        async def done() -> bool:
            if self._task is not None and self._task.done():
                self._task.result()  # the consumer died: its error, not a timeout, fails the test
                raise AssertionError("the consumer stopped before processing the record")
            return (meta.partition, meta.offset) in self.seen

        await eventually(done, what=f"record {meta.partition}/{meta.offset} to be processed")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["RecordingConsumer"]:
        """Runs as its worker does; on leaving, drains, commits and leaves the group."""
        stop = asyncio.Event()
        await self.start()
        task = self._task = asyncio.create_task(self.run(stop))
        try:
            yield self
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, 30)
            finally:
                await self.stop()


@dataclass
class Bus:
    stream: Stream
    producer: AIOKafkaProducer

    async def publish(self, event: CloudEvent) -> RecordMetadata:
        """An event in structured mode, keyed by its case id, as the outbox relay writes it."""
        return await self.producer.send_and_wait(
            self.stream.topic,
            value=event.to_json_bytes(),
            key=event.subject.encode(),
            headers=[("content-type", STRUCTURED_CONTENT_TYPE.encode())],
        )


@pytest.fixture
def bus(stream: Stream, producer: AIOKafkaProducer) -> Bus:
    return Bus(stream, producer)


@pytest.fixture
def make_consumer(stream: Stream, sessions: Sessions, producer: AIOKafkaProducer) -> Callable[..., RecordingConsumer]:
    def make(handler: Any) -> RecordingConsumer:
        return RecordingConsumer(
            bootstrap_servers=stream.bootstrap,
            topics=[stream.topic],
            group_id=stream.group,
            session_factory=sessions,
            processed_model=ProcessedEvent,
            handler=handler,
            dlq_producer=producer,
        )

    return make


# --- partners' inbound messages -------------------------------------------------------------------------------


class PartnerMessages:
    """Signing partners' messages as a partner's system does (Standard Webhooks), and made-up message bodies."""

    @staticmethod
    def new_secret() -> str:
        return new_secret()

    @staticmethod
    def signed_headers(secret: str, body: str, *, at: datetime, webhook_id: str | None = None) -> dict[str, str]:
        webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        return {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
        }

    @staticmethod
    def encode(message: dict[str, Any]) -> str:
        return json.dumps(message, separators=(",", ":"))

    @staticmethod
    async def send(
        client: httpx.AsyncClient,
        partner_id: str,
        secret: str,
        message: dict[str, Any] | str,
        *,
        at: datetime,
        webhook_id: str | None = None,
    ) -> httpx.Response:
        body = message if isinstance(message, str) else PartnerMessages.encode(message)
        headers = PartnerMessages.signed_headers(secret, body, at=at, webhook_id=webhook_id)
        return await client.post(f"/v1/partners/{partner_id}/messages", content=body, headers=headers)

    @staticmethod
    async def read(
        client: httpx.AsyncClient, partner_id: str, secret: str, message_id: str, *, at: datetime
    ) -> httpx.Response:
        path = f"/v1/partners/{partner_id}/messages/{message_id}"
        return await client.get(path, headers=PartnerMessages.read_headers(secret, path, at=at))

    @staticmethod
    def read_headers(secret: str, path: str, *, at: datetime) -> dict[str, str]:
        """A read is signed over its method and path in place of a body (docs/partners.md)."""
        return PartnerMessages.signed_headers(secret, f"GET {path}", at=at)

    @staticmethod
    def arrears_reported(
        reference: str = "HUUR-2026-0001",
        *,
        today: date,
        street: str = "Proefstraat",
        house_number: str = "1",
        **data: Any,
    ) -> dict[str, Any]:
        """A made-up tenant's arrears, as a housing corporation reports them (R1: contact details and arrears)."""
        return {
            "type": "arrears.reported",
            "reference": reference,
            "occurred_at": f"{today.isoformat()}T09:00:00Z",
            "data": {
                "initials": "J.",
                "surname": "Testhuis",
                "street": street,
                "house_number": house_number,
                "postcode": "8911 AB",
                "city": "Leeuwarden",
                "email": "j.testhuis@example.org",
                "arrears_amount": "850.00",
                "arrears_since": (today - timedelta(days=60)).isoformat(),
                "signal_date": today.isoformat(),
                **data,
            },
        }

    @staticmethod
    def eviction_scheduled(
        file_number: str, *, today: date, landlord: dict[str, str] | None = None, days_ahead: int = 21
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "eviction_date": (today + timedelta(days=days_ahead)).isoformat(),
            "served_on": today.isoformat(),
        }
        if landlord is not None:
            data["landlord"] = landlord
        return {
            "type": "eviction.scheduled",
            "reference": file_number,
            "occurred_at": f"{today.isoformat()}T10:00:00Z",
            "data": data,
        }


@pytest.fixture
def partner_messages() -> type[PartnerMessages]:
    return PartnerMessages


# --- a real case-api ----------------------------------------------------------------------------------------


@dataclass
class CaseApiProcess:
    """case-api's API as `make run` starts it (its own migrated PostgreSQL database, trusting a signing key of the
    test), which a test can stop and start again on the same port. `token` has the role partner_gateway."""

    port: int
    env: dict[str, str]
    log_path: Path
    key: DevKey
    database_url: str
    token: str = field(init=False)
    child: Child | None = None

    def __post_init__(self) -> None:
        self.token = self.key.mint_token(["partner_gateway"], subject="partner-gateway")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [
            sys.executable, "-m", "uvicorn", "--factory", "case_api.main:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
        ]  # fmt: skip
        self.child = Child("case-api", argv, self.env, self.log_path)
        self.child.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.child.alive():
                raise RuntimeError(f"case-api exited early:\n{self.child.log_tail()}")
            try:
                if httpx.get(self.url + "/health/live", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"case-api did not start:\n{self.child.log_tail()}")

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()  # SIGTERM to its pid, then waits

    def get(self, path: str) -> httpx.Response:
        """What a test checks in case-api, read as a made-up administrator: the gateway's own token (`token`)
        reaches only the operations its messages need, not a case (docs/roles.md)."""
        admin = self.key.mint_token(["admin"], subject="test-reader")
        return httpx.get(self.url + path, headers={"authorization": f"Bearer {admin}"}, timeout=10)

    def caseworker(self) -> httpx.AsyncClient:
        """A client of case-api acting as a made-up administrator (every team's cases)."""
        token = self.key.mint_token(["admin"], team=None, subject="admin-1")
        return httpx.AsyncClient(base_url=self.url, headers={"authorization": f"Bearer {token}"}, timeout=10)


StartCaseApi = Callable[..., CaseApiProcess]


@pytest.fixture
def start_case_api(postgres_url_factory: Callable[[str], str], tmp_path: Path) -> Iterator[StartCaseApi]:
    """`start_case_api(case_events_topic=..., kafka_bootstrap=...)`: a running case-api; stopped at the end."""
    started: list[CaseApiProcess] = []

    def start(*, case_events_topic: str | None = None, kafka_bootstrap: str = "127.0.0.1:9") -> CaseApiProcess:
        database_url = postgres_url_factory("case_api_for_gateway")
        upgrade_to_head("case_api:migrations", database_url)
        home = tmp_path / f"case-api-{len(started)}"
        key = DevKey.ensure(home / "dev-oidc")
        env = {name: value for name, value in os.environ.items() if not name.startswith(("CASE_API_", "OIDC_"))}
        env.update(
            {
                "CASE_API_DATABASE_URL": database_url,
                "CASE_API_DATA_DIR": str(home / "data"),
                # The API writes to its outbox only; a test that wants the events relays them itself.
                "CASE_API_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
                "CASE_API_OIDC_JWKS_URL": str(key.jwks_path),
                "CASE_API_OIDC_ISSUER": DEVELOPMENT_OIDC_ISSUER,
                "CASE_API_OIDC_AUDIENCE": DEFAULT_OIDC_AUDIENCE,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if case_events_topic:
            env["CASE_API_CASE_EVENTS_TOPIC"] = case_events_topic
        process = CaseApiProcess(free_port(), env, home / "case-api.log", key, database_url)
        process.start()
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def case_api_process(start_case_api: StartCaseApi) -> CaseApiProcess:
    return start_case_api()


# --- partners' systems, the gateway and case-api together ------------------------------------------------------


@dataclass
class PartnerSystems:
    """Partners' systems sending signed messages to the gateway's app (registered by an administrator), and the
    inbound worker's rounds, which forward them to case-api over HTTP with the gateway's service token."""

    client: httpx.AsyncClient  # the gateway's app, with an administrator's token
    app: Any  # the gateway's FastAPI app
    clock: FixedClock
    case_api_http: Callable[[], httpx.AsyncClient]  # a client of case-api as the inbound worker has one
    secrets: dict[str, str] = field(default_factory=dict)

    async def register(self, partner_id: str, kind: str) -> None:
        self.secrets[partner_id] = new_secret()
        answer = await self.client.post(
            "/v1/partners",
            json={
                "id": partner_id,
                "name": partner_id,
                "kind": kind,
                "outbound_secret": new_secret(),
                "inbound_secret": self.secrets[partner_id],
            },
        )
        assert answer.status_code == 201, answer.text

    async def send(self, partner_id: str, message: dict[str, Any]) -> str:
        answer = await PartnerMessages.send(
            self.client, partner_id, self.secrets[partner_id], message, at=self.clock.now()
        )
        assert answer.status_code == 202, answer.text
        message_id: str = answer.json()["message_id"]
        return message_id

    async def outcome(self, partner_id: str, message_id: str) -> dict[str, Any]:
        """What the partner reads: GET /v1/partners/{id}/messages/{message_id}, signed over its method and path."""
        answer = await PartnerMessages.read(
            self.client, partner_id, self.secrets[partner_id], message_id, at=self.clock.now()
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def process(self) -> int:
        """One round of the inbound worker, with its real client of case-api."""
        settings = self.app.state.settings
        async with self.case_api_http() as http:
            case_api = CaseApi(http, TokenFile(settings.case_api_token_file))
            return await process_due(
                self.app.state.session_factory, case_api=case_api, settings=settings, clock=self.clock
            )

    async def deliver(self, partner_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """Send one message, run the inbound worker once, and read the message's outcome."""
        message_id = await self.send(partner_id, message)
        assert await self.process() >= 1
        return await self.outcome(partner_id, message_id)


GatewayWithCaseApi = Callable[..., contextlib.AbstractAsyncContextManager[PartnerSystems]]


@pytest.fixture
def gateway_with_case_api(
    database_url: str, clock: FixedClock, dev_key: DevKey, admin: dict[str, str], tmp_path: Path
) -> GatewayWithCaseApi:
    """`async with gateway_with_case_api(case_api_url=..., case_api_http=..., token=...) as systems:` the gateway's
    app (its lifespan running) whose inbound worker reaches case-api with `token` (role partner_gateway) in its
    token file, as the stack writes it."""

    @contextlib.asynccontextmanager
    async def start(
        *, case_api_url: str, case_api_http: Callable[[], httpx.AsyncClient], token: str
    ) -> AsyncIterator[PartnerSystems]:
        token_file = tmp_path / "case-api.token"
        token_file.write_text(token + "\n")
        settings = Settings(
            database_url=database_url,
            oidc_jwks_url=str(dev_key.jwks_path),
            case_api_url=case_api_url,
            case_api_token_file=token_file,
            default_team="team-noord",
        )
        app = create_app(settings, clock=clock)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://gateway.test", headers=admin) as client,
        ):
            yield PartnerSystems(client, app, clock, case_api_http)

    return start


@pytest.fixture(scope="module")
def case_api_database(postgres_url_factory: Callable[[str], str]) -> str:
    """A migrated case-api database shared by one test module (its cases are told apart by their addresses)."""
    url = postgres_url_factory("case_api_in_process")
    upgrade_to_head("case_api:migrations", url)
    return url


@dataclass
class CaseApiInProcess:
    """case-api's app in this process on its own PostgreSQL database, reached over HTTP (ASGI), trusting the test's
    signing key; `token` has the role partner_gateway."""

    app: Any
    key: DevKey
    database_url: str

    @property
    def token(self) -> str:
        return self.key.mint_token(["partner_gateway"], subject="partner-gateway")

    def http(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url="http://case-api.test", headers=headers, timeout=10)

    def caseworker(self, *roles: str, team: str | None = None) -> httpx.AsyncClient:
        """A client of case-api acting as a made-up administrator (or the roles and team given)."""
        token = self.key.mint_token(list(roles or ("admin",)), team=team, subject="caseworker-1")
        return self.http({"authorization": f"Bearer {token}"})


@pytest.fixture
async def case_api_app(case_api_database: str, clock: FixedClock, dev_key: DevKey) -> AsyncIterator[CaseApiInProcess]:
    """case-api's app in process (its lifespan running) on the module's case-api database, on the test's clock."""
    settings = CaseApiSettings(
        _env_file=None,
        database_url=case_api_database,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # nothing listens: the API writes to its outbox only
        oidc_jwks_url=str(dev_key.jwks_path),
    )
    app = create_case_api(settings, clock)
    async with app.router.lifespan_context(app):
        yield CaseApiInProcess(app, dev_key, case_api_database)


@pytest.fixture
async def partner_systems(
    gateway_with_case_api: GatewayWithCaseApi, case_api_app: CaseApiInProcess
) -> AsyncIterator[PartnerSystems]:
    """Partners, the gateway and case-api's app in process: a corporation `woonfriesland`, a bailiff
    `deurwaarder-noord` and MEE Noord `mee-noord` registered."""
    async with gateway_with_case_api(
        case_api_url="http://case-api.test", case_api_http=case_api_app.http, token=case_api_app.token
    ) as systems:
        await systems.register("woonfriesland", "housing_corporation")
        await systems.register("deurwaarder-noord", "bailiff")
        await systems.register("mee-noord", "client_support")
        yield systems
