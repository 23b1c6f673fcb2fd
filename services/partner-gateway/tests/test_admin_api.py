"""The partner registry's admin API through the real app and its lifespan: what it stores, and refusals
that are RFC 9457 problem details naming the field to fix."""

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from devinfra.devkey import DevKey
from partner_gateway.config import Settings
from partner_gateway.deliveries.models import Delivery, DeliveryAttempt, DeliveryStatus
from partner_gateway.deliveries.service import fan_out
from partner_gateway.main import create_app
from partner_gateway.partners.models import Partner, PartnerKind, Subscription
from partner_gateway.partners.seed import SeedError, load_seed

pytestmark = pytest.mark.postgres

SECRET = "whsec_" + base64.b64encode(b"a made-up secret of a test corporation").decode()
PROBLEM_JSON = "application/problem+json"


def corporation(partner_id: str = "woonfriesland", **changes: Any) -> dict[str, Any]:
    return {
        "id": partner_id,
        "name": "WoonFriesland",
        "kind": "housing_corporation",
        "outbound_secret": SECRET,
        **changes,
    }


@pytest.fixture
async def app(database_url: str, dev_key: DevKey) -> AsyncIterator[FastAPI]:
    app = create_app(Settings(_env_file=None, database_url=database_url, oidc_jwks_url=str(dev_key.jwks_path)))
    # httpx's ASGITransport does not run the lifespan; the app's engine and sessions come from it.
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI, admin: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """An administrator's client: every endpoint of the registry needs the role admin."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test", headers=admin) as client:
        yield client


async def stored(app: FastAPI, model: type[Any]) -> list[Any]:
    async with app.state.session_factory() as session:
        return list((await session.scalars(select(model))).all())


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


async def test_registering_a_partner_answers_201_and_never_echoes_its_secret(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post("/v1/partners", json=corporation())
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "name", "kind", "team", "created_at"}
    assert (body["id"], body["name"], body["kind"]) == ("woonfriesland", "WoonFriesland", "housing_corporation")
    [partner] = await stored(app, Partner)
    assert (partner.id, partner.kind, partner.outbound_secret) == ("woonfriesland", "housing_corporation", SECRET)


async def test_registering_an_id_twice_is_a_409_problem_naming_the_id(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/partners", json=corporation())).status_code == 201
    body = assert_problem(await client.post("/v1/partners", json=corporation(name="Another")), 409)
    assert body["field"] == "id"
    assert "woonfriesland" in body["detail"]
    assert [p.name for p in await stored(app, Partner)] == ["WoonFriesland"]


async def test_registrations_of_one_id_at_once_give_one_201_and_409s(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Those that lose the race are told so, and nobody is told 201 for a row that was not stored."""
    answers = await asyncio.gather(
        *(client.post("/v1/partners", json=corporation(name=f"Registration {n}")) for n in range(5))
    )
    assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409, 409]
    [winner] = [answer for answer in answers if answer.status_code == 201]
    for loser in answers:
        if loser is not winner:
            assert assert_problem(loser, 409)["field"] == "id"
    assert [p.name for p in await stored(app, Partner)] == [winner.json()["name"]]


async def test_a_secret_not_in_standard_webhooks_format_is_a_400_naming_the_field(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = assert_problem(await client.post("/v1/partners", json=corporation(outbound_secret="hunter2")), 400)
    assert [error["field"] for error in body["errors"]] == ["outbound_secret"]
    assert "hunter2" not in str(body.get("detail")), "a refused secret is not repeated in the answer"
    assert await stored(app, Partner) == []


# Each of these once passed the pattern, was stored, and then failed every sign or verify with a 500.
UNUSABLE_SECRETS = {
    "too short": "whsec_" + base64.b64encode(b"only twenty-three bytes").decode(),
    "not base64": "whsec_" + "A" * 31 + "=" + "A" * 8,
    "too long": "whsec_" + base64.b64encode(bytes(65)).decode(),
}


@pytest.mark.parametrize("secret", list(UNUSABLE_SECRETS.values()), ids=list(UNUSABLE_SECRETS))
async def test_a_secret_that_cannot_sign_is_refused_at_registration_and_rotation(
    app: FastAPI, client: httpx.AsyncClient, secret: str
) -> None:
    body = assert_problem(await client.post("/v1/partners", json=corporation(inbound_secret=secret)), 400)
    assert [error["field"] for error in body["errors"]] == ["inbound_secret"]
    assert secret not in str(body), "a refused secret is not repeated in the answer"
    assert await stored(app, Partner) == []

    assert (await client.post("/v1/partners", json=corporation(inbound_secret=SECRET))).status_code == 201
    rotation = await client.post("/v1/partners/woonfriesland/secrets/rotate", json={"outbound_secret": secret})
    assert [error["field"] for error in assert_problem(rotation, 400)["errors"]] == ["outbound_secret"]
    [partner] = await stored(app, Partner)
    assert (partner.inbound_secret, partner.outbound_secret) == (SECRET, SECRET), "nothing already accepted is lost"


async def test_subscribing_stores_an_active_subscription(app: FastAPI, client: httpx.AsyncClient) -> None:
    await client.post("/v1/partners", json=corporation())
    response = await client.post(
        "/v1/partners/woonfriesland/subscriptions",
        json={"event_types": ["case.opened"], "callback_url": "https://hooks.woonfriesland.example/ep"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["partner_id"] == "woonfriesland"
    assert body["event_types"] == ["case.opened"]
    assert body["callback_url"] == "https://hooks.woonfriesland.example/ep"
    assert body["active"] is True
    [subscription] = await stored(app, Subscription)
    assert subscription.id == body["id"]


async def test_subscribing_to_an_unknown_event_type_is_a_422_naming_event_types(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.post("/v1/partners", json=corporation())
    response = await client.post(
        "/v1/partners/woonfriesland/subscriptions",
        json={"event_types": ["case.opened", "case.exploded"], "callback_url": "https://hooks.example/ep"},
    )
    body = assert_problem(response, 422)
    assert body["field"] == "event_types"
    assert "case.exploded" in body["detail"]
    assert await stored(app, Subscription) == []


async def test_subscribing_an_unknown_partner_is_a_404_problem(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/partners/nobody/subscriptions",
        json={"event_types": ["case.opened"], "callback_url": "https://hooks.example/ep"},
    )
    body = assert_problem(response, 404)
    assert body["field"] == "partner_id"
    assert "nobody" in body["detail"]


# --- who may use the registry ------------------------------------------------------------------------------


async def test_the_registry_needs_an_admin_token(app: FastAPI, dev_key: DevKey) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as anonymous:
        assert (await anonymous.post("/v1/partners", json=corporation())).status_code == 401
        assert (await anonymous.get("/v1/partners/woonfriesland/deliveries")).status_code == 401
        lead = {"authorization": f"Bearer {dev_key.mint_token(['team_lead'], team='team-noord')}"}
        body = assert_problem(await anonymous.post("/v1/partners", json=corporation(), headers=lead), 403)
        assert "admin" in body["detail"]
    assert await stored(app, Partner) == []


# --- secrets ---------------------------------------------------------------------------------------------


async def test_rotating_makes_new_secrets_current_and_keeps_the_old_ones_for_the_grace_period(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.post("/v1/partners", json=corporation(inbound_secret=SECRET))
    new_inbound = "whsec_" + base64.b64encode(b"the corporation's new inbound secret").decode()

    response = await client.post("/v1/partners/woonfriesland/secrets/rotate", json={"inbound_secret": new_inbound})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["inbound_secret"] == new_inbound
    assert body["outbound_secret"].startswith("whsec_"), "a side left out gets a secret made by the gateway"
    assert body["outbound_secret"] != SECRET
    [partner] = await stored(app, Partner)
    grace = timedelta(hours=app.state.settings.secret_rotation_grace_hours)
    assert partner.previous_inbound_secret == SECRET
    assert partner.previous_outbound_secret == SECRET
    now = datetime.fromisoformat(body["previous_valid_until"]) - grace
    assert partner.inbound_secrets(now) == [new_inbound, SECRET]
    assert partner.outbound_secrets(now) == [body["outbound_secret"], SECRET]
    assert partner.inbound_secrets(now + grace) == [new_inbound]
    assert partner.outbound_secrets(now + grace) == [body["outbound_secret"]]


async def test_rotating_an_unknown_partner_is_a_404(client: httpx.AsyncClient) -> None:
    assert assert_problem(await client.post("/v1/partners/nobody/secrets/rotate"), 404)["field"] == "partner_id"


# --- subscriptions ---------------------------------------------------------------------------------------


async def test_a_subscription_to_an_event_the_kind_may_never_receive_is_a_422_naming_event_types(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.post("/v1/partners", json=corporation("mee-noord", kind="client_support"))
    response = await client.post(
        "/v1/partners/mee-noord/subscriptions",
        json={"event_types": ["case.opened"], "callback_url": "https://hooks.example/ep"},
    )
    body = assert_problem(response, 422)
    assert body["field"] == "event_types"
    assert "case.opened" in body["detail"]
    assert await stored(app, Subscription) == []


async def test_subscriptions_are_listed_and_deactivated(client: httpx.AsyncClient) -> None:
    await client.post("/v1/partners", json=corporation())
    made = await client.post(
        "/v1/partners/woonfriesland/subscriptions",
        json={"event_types": ["case.opened"], "callback_url": "https://hooks.example/ep"},
    )
    subscription_id = made.json()["id"]

    deactivated = await client.post(f"/v1/partners/woonfriesland/subscriptions/{subscription_id}/deactivate")

    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["active"] is False
    listed = (await client.get("/v1/partners/woonfriesland/subscriptions")).json()["items"]
    assert [(s["id"], s["active"]) for s in listed] == [(subscription_id, False)]
    await client.post("/v1/partners", json=corporation("other"))
    other = await client.post(f"/v1/partners/other/subscriptions/{subscription_id}/deactivate")
    assert assert_problem(other, 404)["field"] == "subscription_id"


# --- the delivery log ------------------------------------------------------------------------------------


async def test_the_delivery_log_lists_filters_shows_attempts_and_replays_only_the_partner_s_own(
    app: FastAPI, client: httpx.AsyncClient, partners: Any, sessions: Any, clock: Any, new_case_opened: Any
) -> None:
    corporation_row, _ = await partners.partner(
        PartnerKind.housing_corporation, event_types=["case.opened"], partner_id="woonfriesland"
    )
    other, _ = await partners.partner(PartnerKind.housing_corporation, event_types=["case.opened"])
    events = [new_case_opened() for _ in range(3)]
    for event in events:  # the corporations' own tenants' cases, before their events
        await partners.map_case(corporation_row, event.subject)
        await partners.map_case(other, event.subject)
    async with sessions() as session, session.begin():
        for event in events:
            await fan_out(session, event=event, clock=clock)
    async with sessions() as session, session.begin():
        mine = (await session.scalars(select(Delivery).where(Delivery.partner_id == corporation_row.id))).all()
        mine[0].status = DeliveryStatus.gave_up
        mine[0].attempts = 1
        session.add(DeliveryAttempt(delivery_id=mine[0].id, attempt=1, at=clock.now(), status_code=404, duration_ms=3))
        given_up = mine[0].id

    page = (await client.get("/v1/partners/woonfriesland/deliveries", params={"limit": 2})).json()
    assert (page["total"], len(page["items"]), page["limit"], page["offset"]) == (3, 2, 2, 0)
    assert {d["partner_id"] for d in page["items"]} == {"woonfriesland"}
    filtered = (await client.get("/v1/partners/woonfriesland/deliveries", params={"status": "gave_up"})).json()
    assert [d["id"] for d in filtered["items"]] == [given_up]
    attempts = (await client.get(f"/v1/partners/woonfriesland/deliveries/{given_up}/attempts")).json()["items"]
    assert [(a["attempt"], a["status_code"], a["duration_ms"]) for a in attempts] == [(1, 404, 3)]

    # Another partner's view of this delivery: as unknown as a missing one.
    for path in (
        f"/v1/partners/{other.id}/deliveries/{given_up}",
        f"/v1/partners/{other.id}/deliveries/{given_up}/attempts",
    ):
        assert assert_problem(await client.get(path), 404)["field"] == "delivery_id"
    assert_problem(await client.post(f"/v1/partners/{other.id}/deliveries/{given_up}/replay"), 404)

    replayed = await client.post(f"/v1/partners/woonfriesland/deliveries/{given_up}/replay")
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["id"], replayed.json()["status"]) == (given_up, "pending")
    again = await client.post(f"/v1/partners/woonfriesland/deliveries/{given_up}/replay")
    assert assert_problem(again, 409)["field"] == "status"


# --- the seed file ---------------------------------------------------------------------------------------


def test_the_example_seed_file_is_valid_with_its_variables_set() -> None:
    example = Path(__file__).resolve().parents[3] / "deploy" / "partners.example.yaml"
    names = set(re.findall(r"\$\{([A-Z0-9_]+)\}", example.read_text()))
    seed = load_seed(
        example, {name: "whsec_" + base64.b64encode(name.encode().ljust(24, b"-")).decode() for name in names}
    )
    assert {p.kind.value for p in seed.partners} == {"housing_corporation", "bailiff", "client_support", "utility"}
    with pytest.raises(SeedError, match=r"\$\{SEED_"):
        load_seed(example, {})


async def test_the_seed_creates_what_is_missing_and_never_overwrites_secrets(
    database_url: str, dev_key: DevKey, tmp_path: Path
) -> None:
    seed_file = tmp_path / "partners.yaml"
    seed_file.write_text(
        "partners:\n"
        "  - id: woonfriesland\n    name: WoonFriesland\n    kind: housing_corporation\n"
        "    outbound_secret: ${TEST_SEED_SECRET}\n"
        "    subscriptions:\n      - event_types: [case.opened]\n        callback_url: https://hooks.example/ep\n"
    )

    async def start(secret: str) -> list[Any]:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("TEST_SEED_SECRET", secret)
            settings = Settings(
                _env_file=None,
                database_url=database_url,
                oidc_jwks_url=str(dev_key.jwks_path),
                partners_seed_file=seed_file,
            )
            app = create_app(settings)
        async with app.router.lifespan_context(app):
            return [await stored(app, Partner), await stored(app, Subscription)]

    first_partners, first_subscriptions = await start(SECRET)
    other = "whsec_" + base64.b64encode(b"another secret, changed in the file").decode()
    again_partners, again_subscriptions = await start(other)

    assert [(p.id, p.outbound_secret) for p in first_partners] == [("woonfriesland", SECRET)]
    assert [(p.id, p.outbound_secret) for p in again_partners] == [("woonfriesland", SECRET)]
    assert [s.id for s in again_subscriptions] == [s.id for s in first_subscriptions]
    assert len(first_subscriptions) == 1
