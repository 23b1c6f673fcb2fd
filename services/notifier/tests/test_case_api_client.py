"""The notifier's client of a REAL case-api: its app served by uvicorn on a free port over its own migrated
PostgreSQL database, trusting a signing key of this test, with the notifier's service token in a file (as the
stack writes it). The household is read at send time and the read is in case-api's processing log; a caseworker
task is made once per notification; what cannot be answered now is `CaseApiUnavailable`. Households are made up."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.audit.models import Operation, ProcessingLogEntry
from case_api.cases.models import Case, Stage
from case_api.config import Settings as CaseApiSettings
from case_api.context import Context
from case_api.main import create_app
from case_api.retention.service import RETENTION_PRINCIPAL, erase_cases
from devinfra.devkey import DevKey
from devinfra.ports import free_port
from notifier.case_api import CaseApi, CaseApiContacts, CaseApiRefused, CaseApiUnavailable, open_case_api
from notifier.config import Settings
from notifier.main import create_app as create_notifier_app
from notifier.notifications.models import CaseState
from notifier.templating.context import Household
from service_kit.clock import FixedClock
from service_kit.db import make_engine, make_session_factory
from service_kit.migrations import upgrade_to_head
from service_kit.service_client import TokenFile

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TEAM = "team-noord"


@dataclass
class RunningCaseApi:
    url: str
    key: DevKey
    sessions: async_sessionmaker[AsyncSession]
    settings: CaseApiSettings
    clock: FixedClock

    def headers(self, *roles: str, team: str | None = TEAM) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key.mint_token(list(roles), team=team, subject='caseworker-1')}"}

    async def open_case(self, **household: object) -> str:
        body: dict[str, object] = {
            "street": "Proefstraat",
            "house_number": str(1 + uuid.uuid4().int % 10**8),
            "house_number_suffix": "b",
            "postcode": f"{1000 + uuid.uuid4().int % 9000} NC",
            "city": "Leeuwarden",
            "email": "jelle.testhuis@example.invalid",
            "mobile": "0612345678",
            "preferred_channel": "email",
            "language": "fy",
            "members": [{"role": "tenant", "initials": "J.", "given_name": "Jelle", "surname": "Testhuis"}],
            **household,
        }
        signal = {
            "partner_kind": "housing_corporation",
            "partner_id": "corporation-test",
            "arrears_amount": "640.00",
            "arrears_since": "2026-01-01",
            "signal_date": "2026-02-27",
            "crisis": False,
        }
        async with httpx.AsyncClient(base_url=self.url, headers=self.headers("team_lead")) as client:
            response = await client.post("/v1/signals", json={"team": TEAM, "household": body, "signal": signal})
        assert response.status_code == 201, response.text
        return str(response.json()["case_id"])

    async def log_of(self, case_id: str) -> list[ProcessingLogEntry]:
        async with self.sessions() as session:
            query = select(ProcessingLogEntry).where(ProcessingLogEntry.case_id == case_id)
            return list((await session.scalars(query.order_by(ProcessingLogEntry.id))).all())


@pytest.fixture
async def case_api(postgres_url_factory: Callable[[str], str], tmp_path: Path) -> AsyncIterator[RunningCaseApi]:
    """case-api's app under uvicorn on a free loopback port: the notifier's requests cross a real socket."""
    database_url = postgres_url_factory("case_api_for_notifier")
    await asyncio.to_thread(upgrade_to_head, "case_api:migrations", database_url)
    key = DevKey.ensure(tmp_path / "dev-oidc")
    settings = CaseApiSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",  # the API writes its outbox; no broker needed
        oidc_jwks_url=str(key.jwks_path),
    )
    clock = FixedClock(T0)
    port = free_port()
    config = uvicorn.Config(create_app(settings, clock), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # its error, not a hang
        await asyncio.sleep(0.01)
    engine = make_engine(database_url)
    try:
        yield RunningCaseApi(f"http://127.0.0.1:{port}", key, make_session_factory(engine), settings, clock)
    finally:
        server.should_exit = True
        await serving
        await engine.dispose()


@pytest.fixture
def token_file(case_api: RunningCaseApi, tmp_path: Path) -> Path:
    """The notifier's service token, as the stack (or a client-credentials sidecar) writes it."""
    path = tmp_path / "notifier-service-token"
    path.write_text(case_api.key.mint_token(["notifier"], subject="notifier") + "\n")
    return path


@pytest.fixture
def notifier_settings(case_api: RunningCaseApi, token_file: Path) -> Settings:
    return Settings(_env_file=None, case_api_url=case_api.url, case_api_token_file=token_file)  # type: ignore[call-arg]


async def test_the_household_is_read_at_send_time_and_the_read_is_logged(
    case_api: RunningCaseApi, notifier_settings: Settings
) -> None:
    case_id = await case_api.open_case(mail_address="Postbus 1234, 8900 CA Leeuwarden")

    async with open_case_api(notifier_settings) as client:
        household = await CaseApiContacts(client).household(case_id)

    assert isinstance(household, Household)
    assert (household.first_name, household.full_name) == ("Jelle", "Jelle Testhuis")
    assert household.address_lines[0].startswith("Proefstraat ")
    assert household.address_lines[0].endswith("b")
    assert household.address_lines[1].endswith(" Leeuwarden")
    assert household.mail_address_lines == ("Postbus 1234", "8900 CA Leeuwarden")
    assert (household.email, household.mobile) == ("jelle.testhuis@example.invalid", "0612345678")
    assert (household.preferred_channel, household.language, household.team) == ("email", "fy", TEAM)
    assert (household.evicted, household.eviction_date, household.storage_place, household.offer_oco) == (
        False,
        None,
        None,
        True,
    )
    read = (await case_api.log_of(case_id))[-1]
    assert (read.actor, read.activity, read.operation) == ("notifier", "informing-the-household", Operation.read)


async def test_dates_of_the_case_arrive_as_dates(case_api: RunningCaseApi, notifier_settings: Settings) -> None:
    case_id = await case_api.open_case()
    async with case_api.sessions() as session, session.begin():
        case = await session.get(Case, case_id)
        assert case is not None
        case.stage, case.eviction_date = Stage.eviction_scheduled, date(2026, 4, 14)

    async with open_case_api(notifier_settings) as client:
        household = await CaseApiContacts(client).household(case_id)

    assert household is not None
    assert household.eviction_date == date(2026, 4, 14)


async def test_an_unknown_or_erased_case_has_no_household(
    case_api: RunningCaseApi, notifier_settings: Settings
) -> None:
    case_id = await case_api.open_case()
    async with httpx.AsyncClient(base_url=case_api.url, headers=case_api.headers("team_lead")) as caseworker:
        closing = await caseworker.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})
        assert closing.status_code == 200, closing.text
    async with case_api.sessions() as session, session.begin():
        ctx = Context(session=session, settings=case_api.settings, clock=case_api.clock, principal=RETENTION_PRINCIPAL)
        await erase_cases(ctx, [case_id])

    async with open_case_api(notifier_settings) as client:
        contacts = CaseApiContacts(client)
        assert await contacts.household(str(uuid.uuid4())) is None  # 404
        assert await contacts.household(case_id) is None  # 410


async def test_a_caseworker_task_is_made_once_per_notification(
    case_api: RunningCaseApi, notifier_settings: Settings
) -> None:
    case_id = await case_api.open_case()
    notification_id = str(uuid.uuid4())

    async with open_case_api(notifier_settings) as client:
        first = await client.create_task(
            case_id, kind="home_visit", notification_id=notification_id, moment="M4", reason="M4: visit today."
        )
        again = await client.create_task(
            case_id, kind="home_visit", notification_id=notification_id, moment="M4", reason="M4: visit today."
        )
        other = await client.create_task(
            case_id, kind="call", notification_id=str(uuid.uuid4()), moment="M7", reason="M7: call about the goods."
        )

    assert first == again != other
    async with httpx.AsyncClient(base_url=case_api.url, headers=case_api.headers("team_lead")) as caseworker:
        tasks = (await caseworker.get(f"/v1/cases/{case_id}/tasks")).json()
    assert sorted((t["id"], t["kind"], t["rule"], t["due_date"]) for t in tasks) == sorted(
        [(first, "home_visit", "M4", "2026-03-03"), (other, "call", "M7", "2026-03-03")]
    )


async def test_a_task_case_api_refuses_for_good_is_refused_not_retried(
    case_api: RunningCaseApi, notifier_settings: Settings
) -> None:
    case_id = await case_api.open_case()
    async with httpx.AsyncClient(base_url=case_api.url, headers=case_api.headers("team_lead")) as caseworker:
        await caseworker.post(f"/v1/cases/{case_id}/close", json={"outcome_code": "no_help_wanted"})

    async with open_case_api(notifier_settings) as client:
        with pytest.raises(CaseApiRefused) as closed:
            await client.create_task(
                case_id, kind="call", notification_id=str(uuid.uuid4()), moment="M2", reason="M2: call."
            )
        with pytest.raises(CaseApiRefused) as unknown:
            await client.create_task(
                str(uuid.uuid4()), kind="call", notification_id=str(uuid.uuid4()), moment="M2", reason="M2: call."
            )
        with pytest.raises(CaseApiRefused) as invalid:
            await client.create_task(case_id, kind="letter", notification_id=str(uuid.uuid4()), moment="M2", reason="x")

    assert (closed.value.status_code, closed.value.problem["field"]) == (409, "case_id")
    assert unknown.value.status_code == 404
    assert (invalid.value.status_code, invalid.value.problem["errors"][0]["field"]) == (400, "kind")


async def test_a_token_without_the_notifier_role_or_no_token_waits(
    case_api: RunningCaseApi, notifier_settings: Settings, token_file: Path
) -> None:
    case_id = await case_api.open_case()
    token_file.write_text(case_api.key.mint_token(["outreach_worker"], team=TEAM, subject="someone"))
    async with open_case_api(notifier_settings) as client:
        with pytest.raises(CaseApiUnavailable, match="403"):
            await CaseApiContacts(client).household(case_id)
        with pytest.raises(CaseApiUnavailable, match="403"):
            await client.create_task(case_id, kind="call", notification_id=str(uuid.uuid4()), moment="M2", reason="r")
        token_file.unlink()
        with pytest.raises(CaseApiUnavailable, match="no service token"):
            await CaseApiContacts(client).household(case_id)


async def test_case_api_down_or_failing_is_unavailable(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("t")
    nowhere = f"http://127.0.0.1:{free_port()}"
    down = Settings(_env_file=None, case_api_url=nowhere, case_api_token_file=token_file)  # type: ignore[call-arg]
    async with open_case_api(down) as client:
        with pytest.raises(CaseApiUnavailable, match="ConnectError"):
            await CaseApiContacts(client).household(str(uuid.uuid4()))
        with pytest.raises(CaseApiUnavailable, match="ConnectError"):
            await client.create_task("c", kind="call", notification_id=str(uuid.uuid4()), moment="M2", reason="r")

    def failing(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/notification-contact") and "malformed" in request.url.path:
            return httpx.Response(200, json={"first_name": "Jelle"})
        return httpx.Response(503, json={"detail": "the database is not reachable"})

    transport = httpx.MockTransport(failing)
    async with httpx.AsyncClient(transport=transport, base_url="http://case-api") as http:
        client = CaseApi(http, TokenFile(token_file))
        with pytest.raises(CaseApiUnavailable, match="503 \\(the database is not reachable\\)"):
            await CaseApiContacts(client).household("c")
        with pytest.raises(CaseApiUnavailable, match="503"):
            await client.create_task("c", kind="call", notification_id=str(uuid.uuid4()), moment="M2", reason="r")
        with pytest.raises(CaseApiUnavailable, match="malformed"):
            await CaseApiContacts(client).household("malformed")


async def test_stored_goods_arrive_with_their_place_reference_and_end(
    case_api: RunningCaseApi, notifier_settings: Settings
) -> None:
    case_id = await case_api.open_case()
    await store_goods(case_api, case_id)

    async with open_case_api(notifier_settings) as client:
        household = await CaseApiContacts(client).household(case_id)

    assert household is not None
    assert (household.storage_place, household.storage_reference, household.retention_end) == (
        "Gemeentelijk depot Leeuwarden",
        "DEP-2026-0077",
        date(2026, 5, 28),
    )


async def store_goods(case_api: RunningCaseApi, case_id: str) -> None:
    async with case_api.sessions() as session, session.begin():  # the legal track is another test's: put it there
        case = await session.get(Case, case_id)
        assert case is not None
        case.stage, case.eviction_date = Stage.evicted, date(2026, 2, 26)
    stored = {
        "storage_place": "Gemeentelijk depot Leeuwarden",
        "storage_reference": "DEP-2026-0077",
        "inventory_reference": "PV-2026-0077",
        "stored_on": "2026-02-26",
        "costs": "900.00",
    }
    async with httpx.AsyncClient(base_url=case_api.url, headers=case_api.headers("team_lead")) as caseworker:
        response = await caseworker.post(f"/v1/cases/{case_id}/belongings", json=stored)
    assert response.status_code == 201, response.text


async def test_a_preview_for_a_case_shows_its_recorded_household_read_with_the_service_token(
    case_api: RunningCaseApi, token_file: Path, database_url: str, sessions: Any, tmp_path: Path
) -> None:
    """GET /v1/cases/{case_id}/templates/{id}/preview: the notifier's API reads the household from the real case-api
    with its service token, as a send would (in case-api's processing log), and says it is a preview."""
    case_id, undated = await case_api.open_case(), await case_api.open_case()
    await store_goods(case_api, case_id)
    async with sessions() as session, session.begin():
        session.add_all([CaseState(case_id=c, team=TEAM, updated_at=T0) for c in (case_id, undated)])
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        oidc_jwks_url=str(case_api.key.jwks_path),
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        case_api_url=case_api.url,
        case_api_token_file=token_file,
        outbox_dir=tmp_path / "outbox",
    )
    app = create_notifier_app(settings, clock=FixedClock(T0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier.test") as notifier:
            response = await notifier.get(
                f"/v1/cases/{case_id}/templates/M7.letter/preview",
                params={"language": "fy"},
                headers=case_api.headers("outreach_worker"),
            )
            m4 = await notifier.get(
                f"/v1/cases/{case_id}/templates/M4.letter/preview",
                headers=case_api.headers("outreach_worker"),
            )
            no_date = await notifier.get(
                f"/v1/cases/{undated}/templates/M4.letter/preview",
                headers=case_api.headers("outreach_worker"),
            )
            token_file.unlink()  # the notifier has no service token now: case-api cannot be asked
            unavailable = await notifier.get(
                f"/v1/cases/{case_id}/templates/M1.letter/preview",
                headers=case_api.headers("outreach_worker"),
            )

    assert response.status_code == 200, response.text
    preview = response.json()
    assert (preview["case_id"], preview["preview"], preview["language"]) == (case_id, True, "fy")
    assert preview["notice"].startswith("PREVIEW")
    assert preview["body"].startswith("Bêste Jelle Testhuis,")
    for fact in ("Gemeentelijk depot Leeuwarden", "DEP-2026-0077", "28 maaie 2026", case_id[:8].upper()):
        assert fact in preview["body"], fact
    assert m4.status_code == 200, m4.text  # the executed date is the case's eviction date
    assert no_date.status_code == 422, no_date.text  # nothing invented: this case has no eviction date
    assert "eviction_date" in no_date.json()["detail"]
    assert unavailable.status_code == 503, unavailable.text
    assert unavailable.headers["content-type"].startswith("application/problem+json")
    read = (await case_api.log_of(case_id))[-1]
    assert (read.actor, read.activity, read.operation) == ("notifier", "informing-the-household", Operation.read)
