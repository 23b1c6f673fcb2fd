"""Partners' webhook secrets at rest: encrypted with AES-256-GCM under GATEWAY_SECRET_KEY, each bound to its column;
readable only with that key; rotation keeps working; production refuses the development key."""

import base64
import os
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, text

from devinfra.devkey import DevKey
from partner_gateway.config import Settings
from partner_gateway.main import create_app
from partner_gateway.partners import secrets
from partner_gateway.partners.models import Partner
from service_kit.crypto import AesGcmKeyring, Unauthentic, decode_key

pytestmark = pytest.mark.postgres

SECRET_COLUMNS = ("outbound_secret", "previous_outbound_secret", "inbound_secret", "previous_inbound_secret")


def whsec(label: str) -> str:
    return "whsec_" + base64.b64encode(f"a made-up secret: {label}".encode()).decode()


@pytest.fixture
def settings(database_url: str, dev_key: DevKey) -> Settings:
    return Settings(_env_file=None, database_url=database_url, oidc_jwks_url=str(dev_key.jwks_path))


@pytest.fixture
def restore_key(settings: Settings) -> Iterator[None]:
    """The process's key goes back to the test settings' (the development default) after the test."""
    try:
        yield
    finally:
        secrets.use_settings(settings)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI, admin: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test", headers=admin) as client:
        yield client


async def raw_secrets(app: FastAPI, partner_id: str) -> dict[str, Any]:
    """The secret columns as the database holds them, bypassing the ORM."""
    async with app.state.session_factory() as session:
        row = (
            await session.execute(
                text(f"SELECT {', '.join(SECRET_COLUMNS)} FROM partner WHERE id = :id"),  # noqa: S608 - constants
                {"id": partner_id},
            )
        ).one()
    return dict(zip(SECRET_COLUMNS, row, strict=True))


async def test_secrets_are_stored_encrypted_bound_to_their_column_and_read_back_plain(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    outbound, inbound = whsec("outbound"), whsec("inbound")
    registered = await client.post(
        "/v1/partners",
        json={
            "id": "woonfriesland",
            "name": "WoonFriesland",
            "kind": "housing_corporation",
            "outbound_secret": outbound,
            "inbound_secret": inbound,
        },
    )
    assert registered.status_code == 201, registered.text

    stored = await raw_secrets(app, "woonfriesland")
    for column, plain in (("outbound_secret", outbound), ("inbound_secret", inbound)):
        token = bytes(stored[column])
        assert b"whsec_" not in token
        assert plain.removeprefix("whsec_").encode() not in token
        assert base64.b64decode(plain.removeprefix("whsec_")) not in token
    assert (stored["previous_outbound_secret"], stored["previous_inbound_secret"]) == (None, None)
    keyring = AesGcmKeyring(decode_key(settings.secret_key.get_secret_value(), name="secret_key"))
    assert keyring.decrypt(bytes(stored["outbound_secret"]), context=b"partner.outbound_secret") == outbound.encode()
    with pytest.raises(Unauthentic):  # a token copied into another column does not open there
        keyring.decrypt(bytes(stored["outbound_secret"]), context=b"partner.inbound_secret")

    async with app.state.session_factory() as session:
        partner = (await session.scalars(select(Partner))).one()
    assert (partner.outbound_secret, partner.inbound_secret) == (outbound, inbound)


async def test_rotation_keeps_old_and_new_valid_for_the_grace_period_both_encrypted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    old_outbound, old_inbound, new_inbound = whsec("old out"), whsec("old in"), whsec("new in")
    await client.post(
        "/v1/partners",
        json={
            "id": "deurwaarder",
            "name": "Deurwaarder",
            "kind": "bailiff",
            "outbound_secret": old_outbound,
            "inbound_secret": old_inbound,
        },
    )
    rotated = await client.post("/v1/partners/deurwaarder/secrets/rotate", json={"inbound_secret": new_inbound})
    assert rotated.status_code == 200, rotated.text
    new_outbound = rotated.json()["outbound_secret"]

    stored = await raw_secrets(app, "deurwaarder")
    for column in SECRET_COLUMNS:
        assert b"whsec_" not in bytes(stored[column]), column
    async with app.state.session_factory() as session:
        partner = (await session.scalars(select(Partner))).one()
    assert partner.previous_outbound_secret_valid_until is not None
    during = partner.previous_outbound_secret_valid_until - timedelta(seconds=1)
    assert partner.outbound_secrets(during) == [new_outbound, old_outbound]
    assert partner.inbound_secrets(during) == [new_inbound, old_inbound]
    after = partner.previous_outbound_secret_valid_until
    assert (partner.outbound_secrets(after), partner.inbound_secrets(after)) == ([new_outbound], [new_inbound])


async def test_another_key_cannot_read_the_secrets_and_says_which_setting_to_check(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, restore_key: None
) -> None:
    await client.post(
        "/v1/partners",
        json={"id": "vitens", "name": "Vitens", "kind": "utility", "outbound_secret": whsec("utility")},
    )
    other_key = base64.b64encode(os.urandom(32)).decode()
    secrets.use_settings(settings.model_copy(update={"secret_key": SecretStr(other_key)}))
    async with app.state.session_factory() as session:
        with pytest.raises(secrets.SecretUnreadable, match="GATEWAY_SECRET_KEY") as raised:
            await session.scalars(select(Partner))
    assert "whsec_" not in str(raised.value)
    assert other_key not in str(raised.value)


def test_production_refuses_the_development_key_and_an_unusable_one() -> None:
    production = {
        "environment": "production",
        "database_url": "postgresql+asyncpg://gateway@db/gateway",
        "oin": "00000001002220647000",
        "oidc_jwks_url": "https://idp.example/jwks.json",
        "oidc_issuer": "https://idp.example",
    }
    with pytest.raises(ValueError, match="secret_key still has its development value"):
        Settings(_env_file=None, **production)  # type: ignore[arg-type]
    key = base64.b64encode(os.urandom(32)).decode()
    assert Settings(_env_file=None, secret_key=SecretStr(key), **production).secret_key.get_secret_value() == key  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="secret_key must be base64 of 32 random bytes"):
        secrets.use_settings(Settings(_env_file=None, secret_key=SecretStr("not-a-key")))
