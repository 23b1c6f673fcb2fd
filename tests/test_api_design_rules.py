"""The NL API Design Rules (Logius, the 2.2 line) hold for the three APIs.

- The official Spectral ruleset (a pinned copy, tools/api-lint/adr-2.2.yaml, run by the Spectral of
  tools/api-lint's URL-free npm lock) finds 0 errors in each OpenAPI document; a document broken on purpose shows
  that the linter really runs the ruleset.
- The run-time rules, over HTTP on a real uvicorn: the document at /v1/openapi.json readable from any origin
  (/core/publish-openapi), API-Version and the security headers on every answer, errors included
  (/core/version-header, /core/transport/security-headers), a trailing slash is 404 and never a redirect
  (/core/no-trailing-slash), invalid input is 400 problem details naming the field
  (/core/error-handling/invalid-input).
"""

import asyncio
import copy
import hashlib
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from devinfra.devkey import DevKey
from devinfra.ports import free_port
from devinfra.topics import REPOSITORY_ROOT
from service_kit.migrations import upgrade_to_head

LINT = REPOSITORY_ROOT / "tools" / "api-lint"
RULESET = LINT / "adr-2.2.yaml"
# Logius-standaarden/API-Design-Rules media/linter.yaml (2.2 line, as of 2026-05-18); docs/adr/0015 says how to
# take a newer one.
RULESET_SHA256 = "80478f0282239de4d2216412240de56f52b864f310aa362ce0aea2c512ff0ba2"
SPECTRAL = LINT / "node_modules" / ".bin" / "spectral"
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def _case_api(settings: dict[str, Any]) -> FastAPI:
    from case_api.config import Settings
    from case_api.main import create_app

    return create_app(Settings(_env_file=None, **settings))


def _notifier(settings: dict[str, Any]) -> FastAPI:
    from notifier.config import Settings
    from notifier.main import create_app

    return create_app(Settings(_env_file=None, **settings))


def _partner_gateway(settings: dict[str, Any]) -> FastAPI:
    from partner_gateway.config import Settings
    from partner_gateway.main import create_app

    return create_app(Settings(_env_file=None, **settings))


# service: (app factory, migrations, (an authenticated read, its status), (a read with an invalid value, the field))
SERVICES: dict[str, tuple[Callable[[dict[str, Any]], FastAPI], str, tuple[str, int], tuple[str, str]]] = {
    "case-api": (_case_api, "case_api:migrations", ("/v1/cases", 200), ("/v1/cases?limit=0", "limit")),
    "notifier": (
        _notifier,
        "notifier:migrations",
        ("/v1/templates", 200),
        ("/v1/templates/M1.letter/preview?language=1", "language"),
    ),
    "partner-gateway": (
        _partner_gateway,
        "partner_gateway:migrations",
        ("/v1/partners/made-up-corporation/deliveries", 404),  # no partner yet: a 404 problem, with the headers
        ("/v1/partners/made-up-corporation/deliveries?limit=0", "limit"),
    ),
}


# An operation behind a bearer token, per service (the notifier's template catalogue is public).
SECURED = {
    "case-api": "/v1/cases",
    "notifier": "/v1/cases/00000000-0000-4000-8000-000000000000/notifications",
    "partner-gateway": "/v1/partners/made-up-corporation/deliveries",
}


def spectral(document: Path) -> list[dict[str, Any]]:
    """Spectral's findings for `document` with the official ruleset (severity 0 is an error)."""
    run = subprocess.run(
        [str(SPECTRAL), "lint", "--ruleset", str(RULESET), "--format", "json", "--quiet", str(document)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.stdout.strip().startswith("["), f"spectral did not lint ({run.returncode}): {run.stderr[-2000:]}"
    findings: list[dict[str, Any]] = json.loads(run.stdout)
    return findings


def document(service: str, tmp_path: Path) -> dict[str, Any]:
    factory = SERVICES[service][0]
    return factory({"database_url": f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}"}).openapi()


def test_the_ruleset_is_the_pinned_copy_of_the_official_one() -> None:
    assert hashlib.sha256(RULESET.read_bytes()).hexdigest() == RULESET_SHA256
    assert SPECTRAL.is_file(), "make install puts Spectral into tools/api-lint/node_modules"


@pytest.mark.parametrize("service", list(SERVICES))
def test_the_official_ruleset_finds_no_error_in_the_openapi_document(service: str, tmp_path: Path) -> None:
    path = tmp_path / f"{service}.json"
    path.write_text(json.dumps(document(service, tmp_path)))
    findings = spectral(path)
    errors = [f"{f['code']}: {f['message']} at {'.'.join(map(str, f['path']))}" for f in findings if f["severity"] == 0]
    assert errors == []


def test_the_linter_finds_a_broken_rule(tmp_path: Path) -> None:
    """The same run on a document without API-Version on one answer and with a trailing slash: both found."""
    broken = copy.deepcopy(document("notifier", tmp_path))
    path_item = broken["paths"].pop("/templates")
    broken["paths"]["/templates/"] = path_item
    del path_item["get"]["responses"]["200"]["headers"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    codes = {f["code"] for f in spectral(path) if f["severity"] == 0}
    assert {"nlgov:missing-header", "path-keys-no-trailing-slash"} <= codes


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """`app` on a real uvicorn on a free loopback port, in a thread with its own event loop."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = 30.0
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert deadline > 0, "uvicorn did not start within 30 s"
            threading.Event().wait(0.05)
            deadline -= 0.05
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def dev_key(tmp_path_factory: pytest.TempPathFactory) -> DevKey:
    return DevKey.ensure(tmp_path_factory.mktemp("adr-dev-oidc"))


@pytest.fixture(params=list(SERVICES))
def api(request: pytest.FixtureRequest, dev_key: DevKey, tmp_path: Path) -> Iterator[tuple[str, str]]:
    service: str = request.param
    factory, migrations, _, _ = SERVICES[service]
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    upgrade_to_head(migrations, database_url)
    settings = {
        "database_url": database_url,
        "oidc_jwks_url": str(dev_key.jwks_path),
        "kafka_bootstrap_servers": f"127.0.0.1:{free_port()}",  # nothing listens: the APIs never need Kafka
    }
    if service == "notifier":
        settings["outbox_dir"] = tmp_path / "outbox"
    with served(factory(settings)) as url:
        yield service, url


def assert_api_headers(response: httpx.Response, version: str) -> None:
    assert response.headers.get("api-version") == version, response.headers
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers)
    assert response.headers.get("strict-transport-security", "").startswith("max-age=")


def test_the_run_time_rules_hold_over_http(api: tuple[str, str], dev_key: DevKey) -> None:
    service, url = api
    _, _, (read, read_status), (invalid, field) = SERVICES[service]
    token = dev_key.mint_token(["team_lead", "admin", "policy_analyst"], team="team-noord", subject="adr-check")
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=30, follow_redirects=False) as client:
        published = client.get("/v1/openapi.json", headers={"origin": "https://elders.example"})
        assert published.status_code == 200
        assert published.headers["access-control-allow-origin"] == "*"
        spec = published.json()
        version = spec["info"]["version"]
        assert spec["servers"][0]["url"].endswith("/v1")
        assert client.get("/openapi.json").json() == spec
        assert_api_headers(published, version)

        answered = client.get(read, headers=auth)
        assert answered.status_code == read_status, answered.text
        assert_api_headers(answered, version)
        probe = client.get("/health/live")  # outside the API's document, the same headers
        assert probe.status_code == 200
        assert_api_headers(probe, version)

        unauthenticated = client.get(SECURED[service])
        assert unauthenticated.status_code == 401
        assert_api_headers(unauthenticated, version)

        slashed = client.get(read + "/", headers=auth)
        assert slashed.status_code == 404, slashed.headers
        assert "location" not in slashed.headers

        refused = client.get(invalid, headers=auth)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"][0]["field"] == field
        assert_api_headers(refused, version)
