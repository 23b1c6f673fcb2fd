"""docs/partners.md's examples sign correctly: its Python helper and its curl/openssl recipe are run as written
against the gateway, and their messages are accepted (202) and readable by the partner."""

import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devinfra.devkey import DevKey
from partner_gateway.config import Settings
from partner_gateway.main import create_app

pytestmark = pytest.mark.postgres

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "partners.md"
PARTNER_ID = "woningstichting-voorbeeld"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


@pytest.fixture
async def client(database_url: str, dev_key: DevKey, admin: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(Settings(_env_file=None, database_url=database_url, oidc_jwks_url=str(dev_key.jwks_path)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client


async def register(client: httpx.AsyncClient, admin: dict[str, str], partner_messages: Any) -> str:
    secret: str = partner_messages.new_secret()
    answer = await client.post(
        "/v1/partners",
        json={
            "id": PARTNER_ID,
            "name": "Woningstichting Voorbeeld",
            "kind": "housing_corporation",
            "outbound_secret": partner_messages.new_secret(),
            "inbound_secret": secret,
        },
        headers=admin,
    )
    assert answer.status_code == 201, answer.text
    return secret


async def test_the_python_example_signs_a_message_the_gateway_accepts(
    client: httpx.AsyncClient, admin: dict[str, str], partner_messages: Any
) -> None:
    secret = await register(client, admin, partner_messages)
    helpers, sending = blocks("python")
    namespace: dict[str, Any] = {}
    exec(helpers, namespace)  # noqa: S102 - the guide's own code, as a partner would copy it

    sent: dict[str, Any] = {}

    class Recorder:
        """Stands in for httpx in the sending example: the request is replayed against the app below."""

        @staticmethod
        def post(url: str, *, content: str, headers: dict[str, str]) -> None:
            sent.update(url=url, content=content, headers=headers)

    namespace.update(httpx=Recorder, GATEWAY="", PARTNER_ID=PARTNER_ID, INBOUND_SECRET=secret)
    exec(sending, namespace)  # noqa: S102
    answer = await client.post(sent["url"], content=sent["content"], headers=sent["headers"])
    assert answer.status_code == 202, answer.text

    message_id = answer.json()["message_id"]
    path = f"/v1/partners/{PARTNER_ID}/messages/{message_id}"
    read = await client.get(path, headers=namespace["signed_headers"](secret, f"GET {path}"))
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "received"


async def test_the_curl_and_openssl_example_signs_a_message_the_gateway_accepts(
    client: httpx.AsyncClient, admin: dict[str, str], partner_messages: Any
) -> None:
    secret = await register(client, admin, partner_messages)
    [script] = blocks("sh")
    script = script.replace("SECRET='whsec_...'", f"SECRET='{secret}'")
    # Up to the request; then print what curl would send, and send it through the test's client instead.
    script = script[: script.index("curl ")] + 'printf "%s\\n%s\\n%s\\n%s" "$ID" "$TS" "$SIG" "$BODY"\n'
    webhook_id, timestamp, signature, body = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split("\n", 3)

    answer = await client.post(
        f"/v1/partners/{PARTNER_ID}/messages",
        content=body,
        headers={
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": f"v1,{signature}",
        },
    )
    assert answer.status_code == 202, answer.text
