"""Partners' messages in, through the real app on real PostgreSQL with a set clock: signatures (good, forged,
stale, replayed, rotated), the types of a partner's kind, the schema per type, the size and rate limits, and
that a partner reads only its own messages."""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from devinfra.devkey import DevKey
from partner_gateway.config import Settings
from partner_gateway.inbound.models import InboundMessage, InboundStatus
from partner_gateway.main import create_app
from partner_gateway.partners import service as registry
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
async def app(database_url: str, clock: FixedClock, dev_key: DevKey) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        oidc_jwks_url=str(dev_key.jwks_path),
        inbound_max_body_bytes=4096,
        inbound_rate_burst=5,
        inbound_rate_per_second=0.5,
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI, admin: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    # The admin's token registers partners; partners' own requests are signed and ignore it.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test", headers=admin) as client:
        yield client


@pytest.fixture
async def corporation(client: httpx.AsyncClient, partner_messages: Any) -> tuple[str, str]:
    secret = partner_messages.new_secret()
    registered = await client.post(
        "/v1/partners",
        json={
            "id": "woonfriesland",
            "name": "WoonFriesland",
            "kind": "housing_corporation",
            "outbound_secret": partner_messages.new_secret(),
            "inbound_secret": secret,
        },
    )
    assert registered.status_code == 201, registered.text
    return "woonfriesland", secret


async def register(client: httpx.AsyncClient, partner_messages: Any, partner_id: str, kind: str) -> str:
    secret: str = partner_messages.new_secret()
    registered = await client.post(
        "/v1/partners",
        json={
            "id": partner_id,
            "name": partner_id,
            "kind": kind,
            "outbound_secret": partner_messages.new_secret(),
            "inbound_secret": secret,
        },
    )
    assert registered.status_code == 201, registered.text
    return secret


async def stored(app: FastAPI) -> list[InboundMessage]:
    async with app.state.session_factory() as session:
        return list((await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all())


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


async def test_a_signed_message_is_stored_before_its_202_and_its_partner_reads_its_status(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    message = partner_messages.arrears_reported(today=clock.now().date())
    response = await partner_messages.send(client, partner_id, secret, message, at=clock.now())

    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    assert response.json() == {"message_id": message_id}
    [row] = await stored(app)
    assert (row.id, row.partner_id, row.type, row.reference) == (
        message_id,
        partner_id,
        "arrears.reported",
        "HUUR-2026-0001",
    )
    assert (row.status, row.attempts, row.payload) == (InboundStatus.received, 0, message["data"])

    answer = await partner_messages.read(client, partner_id, secret, message_id, at=clock.now())
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["outcome"]) == ("received", None)


async def test_a_forged_signature_is_a_401_that_repeats_no_secret_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    forger = partner_messages.new_secret()
    response = await partner_messages.send(
        client, partner_id, forger, partner_messages.arrears_reported(today=clock.now().date()), at=clock.now()
    )
    body = assert_problem(response, 401)
    assert body["field"] == "webhook-signature"
    assert secret not in response.text
    assert forger not in response.text
    assert secret.removeprefix("whsec_") not in response.text

    unsigned = await client.post(
        f"/v1/partners/{partner_id}/messages",
        content=partner_messages.encode(partner_messages.arrears_reported(today=clock.now().date())),
    )
    assert assert_problem(unsigned, 401)["field"] == "webhook-id"
    assert await stored(app) == []


async def test_a_message_older_or_newer_than_5_minutes_is_refused(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    signed_at = clock.now()
    body = partner_messages.encode(partner_messages.arrears_reported(today=signed_at.date()))
    headers = partner_messages.signed_headers(secret, body, at=signed_at)

    clock.advance(timedelta(minutes=6))  # the same signed request, delivered 6 minutes later
    stale = await client.post(f"/v1/partners/{partner_id}/messages", content=body, headers=headers)
    assert assert_problem(stale, 401)["field"] == "webhook-timestamp"
    assert "old" in stale.json()["detail"]

    ahead = await partner_messages.send(
        client, partner_id, secret, body, at=clock.now() + timedelta(minutes=6), webhook_id="ahead"
    )
    assert "ahead" in assert_problem(ahead, 401)["detail"]

    within = await partner_messages.send(client, partner_id, secret, body, at=clock.now() - timedelta(minutes=4))
    assert within.status_code == 202, within.text
    assert len(await stored(app)) == 1


async def test_a_replayed_webhook_id_gets_the_first_answer_and_is_stored_once(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    message = partner_messages.arrears_reported(today=clock.now().date())
    first = await partner_messages.send(client, partner_id, secret, message, at=clock.now(), webhook_id="msg_1")
    clock.advance(timedelta(minutes=1))
    again = await partner_messages.send(client, partner_id, secret, message, at=clock.now(), webhook_id="msg_1")

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again.headers["webhook-replayed"] == "true"
    assert [row.id for row in await stored(app)] == [first.json()["message_id"]]

    other_body = partner_messages.arrears_reported(today=clock.now().date(), house_number="2")
    conflict = await partner_messages.send(client, partner_id, secret, other_body, at=clock.now(), webhook_id="msg_1")
    assert assert_problem(conflict, 409)["field"] == "webhook-id"
    assert len(await stored(app)) == 1


async def test_a_type_of_another_partner_kind_is_a_403_naming_the_type(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    bailiffs_type = partner_messages.eviction_scheduled("2026-0042", today=clock.now().date())
    body = assert_problem(await partner_messages.send(client, partner_id, secret, bailiffs_type, at=clock.now()), 403)
    assert body["field"] == "type"
    assert "eviction.scheduled" in body["detail"]
    assert "arrears.reported" in body["allowed_types"]

    utility_secret = await register(client, partner_messages, "waterbedrijf", "utility")
    cleared = {
        "type": "arrears.cleared",
        "reference": "W-1",
        "occurred_at": "2026-03-02T09:00:00Z",
        "data": {"cleared_on": "2026-03-01"},
    }
    body = assert_problem(
        await partner_messages.send(client, "waterbedrijf", utility_secret, cleared, at=clock.now()), 403
    )
    assert "arrears.cleared" in body["detail"]
    assert body["allowed_types"] == ["arrears.reported"]
    assert await stored(app) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["data"].pop("postcode"), "data.postcode"),
        (lambda m: m["data"].update(postcode="8911AB!"), "data.postcode"),
        (lambda m: m["data"].update(arrears_since="2026-02-30"), "data.arrears_since"),
        (lambda m: m["data"].update(bsn="111222333"), "data.bsn"),
        (lambda m: m["data"].update(crisis="yes"), "data.crisis"),
        (lambda m: m.pop("reference"), "reference"),
        (lambda m: m.update(occurred_at="yesterday"), "occurred_at"),
        (lambda m: m.update(type="arrears.forgiven"), "type"),
    ],
    ids=["missing", "pattern", "date", "unexpected", "type", "envelope", "date-time", "unknown-type"],
)
async def test_content_that_breaks_the_schema_is_a_400_naming_the_field(
    app: FastAPI,
    client: httpx.AsyncClient,
    clock: FixedClock,
    corporation: tuple[str, str],
    partner_messages: Any,
    change: Any,
    field: str,
) -> None:
    partner_id, secret = corporation
    message = partner_messages.arrears_reported(today=clock.now().date())
    change(message)
    body = assert_problem(await partner_messages.send(client, partner_id, secret, message, at=clock.now()), 400)
    assert body["field"] == field
    assert body["detail"].startswith(field)
    assert "111222333" not in str(body), "a refused value is not repeated"
    assert await stored(app) == []


async def test_a_body_that_is_not_json_is_a_400(
    client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    body = assert_problem(await partner_messages.send(client, partner_id, secret, "{not json", at=clock.now()), 400)
    assert body["field"] == "body"
    assert "JSON" in body["detail"]


async def test_a_body_over_the_size_limit_is_a_413(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    message = partner_messages.arrears_reported(today=clock.now().date(), city="L" * 5000)
    body = assert_problem(await partner_messages.send(client, partner_id, secret, message, at=clock.now()), 413)
    assert body["max_bytes"] == 4096
    assert await stored(app) == []


async def test_a_partner_over_its_rate_limit_gets_429_with_retry_after_and_others_do_not(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    today = clock.now().date()
    for n in range(5):  # the burst
        message = partner_messages.arrears_reported(f"HUUR-{n}", today=today)
        assert (await partner_messages.send(client, partner_id, secret, message, at=clock.now())).status_code == 202

    refused = await partner_messages.send(
        client, partner_id, secret, partner_messages.arrears_reported("HUUR-5", today=today), at=clock.now()
    )
    assert_problem(refused, 429)
    assert refused.headers["Retry-After"] == "2"  # one token at 0.5 per second

    other_secret = await register(client, partner_messages, "elkien", "housing_corporation")
    other = await partner_messages.send(
        client, "elkien", other_secret, partner_messages.arrears_reported(today=today), at=clock.now()
    )
    assert other.status_code == 202, "the limit is per partner"

    clock.advance(timedelta(seconds=2))
    again = await partner_messages.send(
        client, partner_id, secret, partner_messages.arrears_reported("HUUR-5", today=today), at=clock.now()
    )
    assert again.status_code == 202, again.text
    assert len(await stored(app)) == 7


async def test_after_a_rotation_the_previous_secret_holds_during_the_grace_period_only(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, old_secret = corporation
    new_secret = partner_messages.new_secret()
    async with app.state.session_factory() as session, session.begin():
        await registry.rotate_inbound_secret(
            session, partner_id=partner_id, new_secret=new_secret, grace=timedelta(hours=24), clock=clock
        )
    today = clock.now().date()
    for n, secret in enumerate((old_secret, new_secret)):
        message = partner_messages.arrears_reported(f"HUUR-{n}", today=today)
        assert (await partner_messages.send(client, partner_id, secret, message, at=clock.now())).status_code == 202

    clock.advance(timedelta(hours=24, seconds=1))
    late = await partner_messages.send(
        client, partner_id, old_secret, partner_messages.arrears_reported("HUUR-2", today=today), at=clock.now()
    )
    assert assert_problem(late, 401)["field"] == "webhook-signature"
    current = await partner_messages.send(
        client, partner_id, new_secret, partner_messages.arrears_reported("HUUR-3", today=today), at=clock.now()
    )
    assert current.status_code == 202


async def test_a_partner_never_reads_another_partners_message(
    client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    sent = await partner_messages.send(
        client, partner_id, secret, partner_messages.arrears_reported(today=clock.now().date()), at=clock.now()
    )
    message_id = sent.json()["message_id"]
    other_secret = await register(client, partner_messages, "elkien", "housing_corporation")

    assert_problem(await partner_messages.read(client, "elkien", other_secret, message_id, at=clock.now()), 404)
    # Nor with the owner's path and its own secret.
    assert_problem(await partner_messages.read(client, partner_id, other_secret, message_id, at=clock.now()), 401)
    unsigned = await client.get(f"/v1/partners/{partner_id}/messages/{message_id}")
    assert_problem(unsigned, 401)


async def test_a_captured_read_signature_reads_only_the_message_it_was_made_for(
    client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    """Issue 11: reads were signed over an empty body, so one captured signature (within its 5 minutes) read every
    other message of the partner. A read is signed over its method and path now."""
    partner_id, secret = corporation
    today = clock.now().date()
    first, second = [
        (await partner_messages.send(client, partner_id, secret, message, at=clock.now())).json()["message_id"]
        for message in (
            partner_messages.arrears_reported("HUUR-1", today=today),
            partner_messages.arrears_reported("HUUR-2", today=today),
        )
    ]
    first_path = f"/v1/partners/{partner_id}/messages/{first}"
    captured = partner_messages.read_headers(secret, first_path, at=clock.now())
    assert (await client.get(first_path, headers=captured)).status_code == 200

    replayed = await client.get(f"/v1/partners/{partner_id}/messages/{second}", headers=captured)
    assert assert_problem(replayed, 401)["field"] == "webhook-signature"
    over_empty_body = partner_messages.signed_headers(secret, "", at=clock.now())
    assert_problem(await client.get(first_path, headers=over_empty_body), 401)
    signed_as_a_post = partner_messages.signed_headers(secret, f"POST {first_path}", at=clock.now())
    assert_problem(await client.get(first_path, headers=signed_as_a_post), 401)


async def test_a_partner_without_an_inbound_secret_cannot_send(
    client: httpx.AsyncClient, clock: FixedClock, partner_messages: Any
) -> None:
    secret = partner_messages.new_secret()
    await client.post(
        "/v1/partners",
        json={"id": "nosecret", "name": "No secret", "kind": "utility", "outbound_secret": secret},
    )
    message = partner_messages.arrears_reported(today=clock.now().date())
    body = assert_problem(await partner_messages.send(client, "nosecret", secret, message, at=clock.now()), 401)
    assert "no inbound secret" in body["detail"]
    assert_problem(await partner_messages.send(client, "nobody", secret, message, at=clock.now()), 404)


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-13-01T09:00:00Z",  # month 13
        "2026-02-30T09:00:00Z",  # 30 February
        "2026-03-01T25:00:00Z",  # hour 25
        "2026-12-31T23:59:60Z",  # a leap second
        "2026-03-01T09:00:00+24:00",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-23:59",  # after year 9999 in UTC
    ],
)
async def test_an_occurred_at_that_is_not_a_real_instant_is_a_400_naming_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    clock: FixedClock,
    corporation: tuple[str, str],
    partner_messages: Any,
    occurred_at: str,
) -> None:
    partner_id, secret = corporation
    message = partner_messages.arrears_reported(today=clock.now().date())
    message["occurred_at"] = occurred_at
    body = assert_problem(await partner_messages.send(client, partner_id, secret, message, at=clock.now()), 400)
    assert body["field"] == "occurred_at"
    assert await stored(app) == []


async def test_a_date_in_data_that_is_not_a_real_day_is_a_400_naming_it(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    message = partner_messages.arrears_reported(today=clock.now().date())
    [name] = [
        name
        for name, value in message["data"].items()
        if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-"
    ][:1]
    message["data"][name] = "2026-02-30"
    body = assert_problem(await partner_messages.send(client, partner_id, secret, message, at=clock.now()), 400)
    assert body["field"] == f"data.{name}"
    assert await stored(app) == []


@pytest.mark.parametrize("opening", ['{"a":' * 500, "[" * 1500])
async def test_deeply_nested_json_is_refused_naming_the_limit_before_it_is_parsed(
    app: FastAPI,
    client: httpx.AsyncClient,
    clock: FixedClock,
    corporation: tuple[str, str],
    partner_messages: Any,
    opening: str,
) -> None:
    partner_id, secret = corporation
    message = partner_messages.arrears_reported(today=clock.now().date())
    encoded = partner_messages.encode(message)
    closing = "".join("}" if char == "{" else "]" for char in reversed(opening) if char in "{[")
    body_text = encoded.replace('"data":{', f'"data":{{"nested":{opening}1{closing},', 1)
    body = assert_problem(await partner_messages.send(client, partner_id, secret, body_text, at=clock.now()), 413)
    assert body["max_depth"] == 32
    assert "32" in body["detail"]
    assert await stored(app) == []


async def test_a_lone_surrogate_in_a_name_is_a_422_naming_the_field_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    message = partner_messages.arrears_reported(today=clock.now().date())
    message["data"]["surname"] = "Test\ud800huis"  # json.dumps writes it as the escape \ud800
    encoded = partner_messages.encode(message)
    assert "\\ud800" in encoded
    body = assert_problem(await partner_messages.send(client, partner_id, secret, encoded, at=clock.now()), 422)
    assert body["field"] == "data.surname"
    assert await stored(app) == []


async def test_an_unknown_http_method_is_a_405(
    client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    message = partner_messages.encode(partner_messages.arrears_reported(today=clock.now().date()))
    headers = partner_messages.signed_headers(secret, message, at=clock.now())
    for path in (
        f"/v1/partners/{partner_id}/messages",
        f"/v1/partners/{partner_id}/messages/im_0",
        f"/v1/partners/{partner_id}/subscriptions",
        "/v1/partners",
        "/health/live",
    ):
        response = await client.request("QUERY", path, content=message, headers=headers)
        assert response.status_code == 405, (path, response.text)


@pytest.mark.parametrize(
    ("facts", "field", "status"),
    [  # 400: the schema; 422: a rule of the contract that the schema cannot say
        ({"minors_count": -1}, "data.minors_count", 400),
        ({"minors_count": 21}, "data.minors_count", 400),
        ({"minors_count": "2"}, "data.minors_count", 400),
        ({"birth_years": []}, "data.birth_years", 400),
        ({"birth_years": [1988, "2016"]}, "data.birth_years[1]", 400),
        ({"birth_years": [1850]}, "data.birth_years[0]", 400),
        ({"birth_years": [1988, 2099]}, "data.birth_years[1]", 422),  # after the year of signal_date
        ({"minors_count": 1, "birth_years": [1988, 2016]}, "data.birth_years", 422),  # one or the other
    ],
)
async def test_a_corporations_household_composition_is_checked_naming_the_field(
    app: FastAPI,
    client: httpx.AsyncClient,
    clock: FixedClock,
    corporation: tuple[str, str],
    partner_messages: Any,
    facts: dict[str, Any],
    field: str,
    status: int,
) -> None:
    partner_id, secret = corporation
    message = partner_messages.arrears_reported(today=clock.now().date(), **facts)
    body = assert_problem(await partner_messages.send(client, partner_id, secret, message, at=clock.now()), status)
    assert body["field"] == field, body
    assert body["detail"].startswith(field)
    assert await stored(app) == []


async def test_a_corporation_may_send_the_household_composition_and_a_utility_may_not(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    today = clock.now().date()
    for facts in ({"minors_count": 2}, {"birth_years": [1988, 1990, 2016, 2019]}):
        message = partner_messages.arrears_reported(f"HUUR-{len(facts)}-{next(iter(facts))}", today=today, **facts)
        answer = await partner_messages.send(client, partner_id, secret, message, at=clock.now())
        assert answer.status_code == 202, answer.text
    assert [
        message.payload.get("minors_count") or message.payload.get("birth_years") for message in await stored(app)
    ] == [
        2,
        [1988, 1990, 2016, 2019],
    ]

    utility_secret = await register(client, partner_messages, "waterbedrijf", "utility")
    message = partner_messages.arrears_reported("W-1", today=today, minors_count=2)
    body = assert_problem(
        await partner_messages.send(client, "waterbedrijf", utility_secret, message, at=clock.now()), 422
    )
    assert body["field"] == "data.minors_count"
    assert "housing corporation" in body["detail"]
    assert len(await stored(app)) == 2
