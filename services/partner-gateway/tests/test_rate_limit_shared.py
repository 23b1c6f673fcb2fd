"""Issue 11: the inbound rate limit held per API process, so three replicas let a partner send three times its
limit. Two real gateway processes (uvicorn) on one PostgreSQL database now take from the same bucket."""

import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devinfra.devkey import DevKey
from devinfra.ports import free_port
from devinfra.stack import Child

pytestmark = pytest.mark.postgres

BURST = 6


def start_gateway(name: str, database_url: str, dev_key: DevKey, tmp_path: Path) -> tuple[Child, str]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GATEWAY_", "OIDC_"))}
    env.update(
        {
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_OIDC_JWKS_URL": str(dev_key.jwks_path),
            "GATEWAY_DATA_DIR": str(tmp_path / name),
            # Almost no refill during the test: what the two processes let through together is the burst.
            "GATEWAY_INBOUND_RATE_PER_SECOND": "0.001",
            "GATEWAY_INBOUND_RATE_BURST": str(BURST),
            "PYTHONUNBUFFERED": "1",
        }
    )
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "partner_gateway.main:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
    ]  # fmt: skip
    child = Child(name, argv, env, tmp_path / f"{name}.log")
    child.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{name} exited early:\n{child.log_tail()}")
        try:
            if httpx.get(url + "/health/live", timeout=2).status_code == 200:
                return child, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    child.stop()
    raise TimeoutError(f"{name} did not start:\n{child.log_tail()}")


@pytest.fixture
def two_gateways(database_url: str, dev_key: DevKey, tmp_path: Path) -> Iterator[list[str]]:
    started: list[Child] = []
    urls = []
    try:
        for name in ("gateway-a", "gateway-b"):
            child, url = start_gateway(name, database_url, dev_key, tmp_path)
            started.append(child)
            urls.append(url)
        yield urls
    finally:
        for child in started:
            child.stop()  # SIGTERM to its own pid, then waits


def test_two_api_processes_together_allow_the_limit_once(
    two_gateways: list[str], admin: dict[str, str], partner_messages: Any
) -> None:
    first, second = two_gateways
    secret = register(first, admin, partner_messages, "woonfriesland")

    answers: list[int] = []
    for n in range(2 * BURST):
        gateway = (first, second)[n % 2]
        answer = send(gateway, partner_messages, "woonfriesland", secret, f"HUUR-{n}")
        assert answer.status_code in (202, 429), answer.text
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
        answers.append(answer.status_code)

    # Per process (before): 6 taken by each, 12 in all. Shared: the burst, once.
    assert answers.count(202) == BURST, answers
    assert answers[:BURST] == [202] * BURST, "the burst is taken first, whichever process answers"
    assert set(answers[BURST:]) == {429}

    # Per partner: another corporation sends through either process.
    other = register(second, admin, partner_messages, "elkien")
    assert send(first, partner_messages, "elkien", other, "HUUR-1").status_code == 202
    assert send(second, partner_messages, "elkien", other, "HUUR-2").status_code == 202


def register(gateway: str, admin: dict[str, str], partner_messages: Any, partner_id: str) -> str:
    secret: str = partner_messages.new_secret()
    registered = httpx.post(
        gateway + "/v1/partners",
        headers=admin,
        json={
            "id": partner_id,
            "name": partner_id,
            "kind": "housing_corporation",
            "outbound_secret": partner_messages.new_secret(),
            "inbound_secret": secret,
        },
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    return secret


def send(gateway: str, partner_messages: Any, partner_id: str, secret: str, reference: str) -> httpx.Response:
    body = partner_messages.encode(partner_messages.arrears_reported(reference, today=date.today()))
    headers = partner_messages.signed_headers(secret, body, at=datetime.now(UTC))
    return httpx.post(f"{gateway}/v1/partners/{partner_id}/messages", content=body, headers=headers, timeout=10)
