"""Property-based fuzzing of every OpenAPI operation of the three services (spec/quality.md, issue 11).

schemathesis drives the real API processes on real PostgreSQL. Each generated request carries the token of one
of the seven roles in turn (tests/fuzz/schemathesis_hooks.py), so every operation is tried as every kind of
caller; and the partner-gateway's partner API gets a signed pass through a signing proxy that signs each request
as a registered housing corporation would (docs/partners.md), so the fuzzing reaches past the signature check
into the schema checks and the store. The checks: 0 server errors, 0 answers that break their own schema. A
fixed seed keeps CI repeatable; run the CLI with more examples to search wider."""

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from devinfra.devkey import DevKey
from devinfra.ports import free_port
from service_kit.auth import Role
from service_kit.migrations import upgrade_to_head

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS_DIR = Path(__file__).with_name("fuzz")
SEED = "20261125"
TEAM = "team-noord"
PARTNER_ID = "fuzz-corporation"


@dataclass
class Api:
    name: str
    url: str
    log: Path


@dataclass
class FuzzStack:
    key: DevKey
    case_api: Api
    notifier: Api
    gateway: Api

    def tokens(self) -> list[str]:
        """One token per role: the team roles in the fuzzer's team, the others without one."""
        return [self.key.mint_token([role.value], team=TEAM, subject=f"fuzz-{role.value}") for role in Role]


def _wait_live(url: str, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up within {seconds} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def fuzz_stack(
    postgres_url_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzStack]:
    root = tmp_path_factory.mktemp("fuzz")
    key = DevKey.ensure(root / "oidc")
    notifier_token = root / "notifier.token"
    notifier_token.write_text(key.mint_token([Role.notifier.value], subject="notifier"))
    gateway_token = root / "gateway.token"
    gateway_token.write_text(key.mint_token([Role.partner_gateway.value], subject="partner-gateway"))
    urls = {name: postgres_url_factory(f"{name}_fuzz") for name in ("case_api", "notifier", "gateway")}
    for name, package in (("case_api", "case_api"), ("notifier", "notifier"), ("gateway", "partner_gateway")):
        upgrade_to_head(f"{package}:migrations", urls[name])
    ports = {name: free_port() for name in urls}
    case_api_url = f"http://127.0.0.1:{ports['case_api']}"
    environments = {
        "case_api": {"CASE_API_DATABASE_URL": urls["case_api"]},
        "notifier": {
            "NOTIFIER_DATABASE_URL": urls["notifier"],
            "NOTIFIER_CASE_API_URL": case_api_url,
            "NOTIFIER_CASE_API_TOKEN_FILE": str(notifier_token),
            "NOTIFIER_OUTBOX_DIR": str(root / "outbox"),
        },
        "gateway": {
            "GATEWAY_DATABASE_URL": urls["gateway"],
            "GATEWAY_CASE_API_URL": case_api_url,
            "GATEWAY_CASE_API_TOKEN_FILE": str(gateway_token),
            # The fuzzer sends far faster than a partner may; the limit itself is tested in test_rate_limit.
            "GATEWAY_INBOUND_RATE_PER_SECOND": "100000",
            "GATEWAY_INBOUND_RATE_BURST": "100000",
        },
    }
    factories = {
        "case_api": "case_api.main:create_app",
        "notifier": "notifier.main:create_app",
        "gateway": "partner_gateway.main:create_app",
    }
    processes: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []
    apis: dict[str, Api] = {}
    try:
        for name, factory in factories.items():
            log_path = root / f"{name}.log"
            log = log_path.open("wb")
            env = {**os.environ, "OIDC_JWKS_URL": str(key.jwks_path), **environments[name]}
            command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", str(ports[name])]
            processes.append((subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT), log))
            apis[name] = Api(name, f"http://127.0.0.1:{ports[name]}", log_path)
        for api in apis.values():
            _wait_live(api.url, api.log)
        yield FuzzStack(key, apis["case_api"], apis["notifier"], apis["gateway"])
    finally:
        for process, _ in processes:
            process.terminate()
        for process, log in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            log.close()


def schemathesis(
    api: Api, tmp_path: Path, *, tokens: list[str], extra: Sequence[str] = (), env: dict[str, str] | None = None
) -> str:
    """Runs schemathesis over `api`'s OpenAPI document with the role-rotating hooks; fails on any finding."""
    result = subprocess.run(
        [
            str(SCHEMATHESIS), "run", f"{api.url}/openapi.json",
            *extra,
            "--checks", "not_a_server_error,response_schema_conformance",
            "--exclude-path", "/health/ready",  # 503 while no broker runs is its documented answer
            "--max-examples", "15", "--seed", SEED,
            "--workers", "1",  # hypothesis compiles filter lambdas; CPython 3.11's ast is not thread-safe
        ],
        capture_output=True, text=True, timeout=900,
        cwd=tmp_path,  # its example cache (.schemathesis/) goes with the test, not into the clone
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HOOKS_DIR), os.environ.get("PYTHONPATH", "")]),
            "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
            "FUZZ_TOKENS": json.dumps(tokens),
            **(env or {}),
        },
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:] + api.log.read_text()[-4000:]
    assert "Hook" not in result.stderr, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize("service", ["case_api", "notifier", "gateway"])
def test_every_operation_answers_every_role_without_a_server_error_or_a_schema_break(
    fuzz_stack: FuzzStack, service: str, tmp_path: Path
) -> None:
    api: Api = getattr(fuzz_stack, service)
    schemathesis(api, tmp_path, tokens=fuzz_stack.tokens())
    answered = set(re.findall(r'HTTP/1\.1\\" (\d{3})', api.log.read_text()))
    # Seven roles in turn: some were let through, some refused for their role (the role walk tests which).
    assert "403" in answered, answered
    assert answered & {"200", "201", "202"}, answered


class SigningProxy:
    """Forwards every request to the gateway signed with one partner's inbound secret (Standard Webhooks): a
    body-carrying request over its exact bytes, a read over its request line (docs/partners.md)."""

    def __init__(self, target: str, secret: str) -> None:
        self.target = target
        self.webhook = Webhook(secret)
        self.statuses: Counter[tuple[str, int]] = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                # The gateway checks a read's signature over the decoded path, as its framework gives it.
                path = urllib.parse.unquote(self.path.split("?", 1)[0])
                reads = self.command in {"GET", "HEAD"}
                content = f"{self.command} {path}" if reads else body.decode("utf-8", "replace")
                webhook_id = f"msg_{uuid.uuid4().hex}"
                now = datetime.now(UTC)
                # A header value with a control character cannot go out on the wire (h11 refuses it, as any
                # client would): the proxy leaves such generated values out.
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in {"host", "content-length", "webhook-id", "webhook-timestamp"}
                    and name.lower() != "webhook-signature"
                    and not any(ord(c) < 32 and c != "\t" for c in value)
                }
                headers |= {
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": proxy.webhook.sign(webhook_id, now, content),
                }
                answer = httpx.request(
                    self.command, f"{proxy.target}{self.path}", content=body, headers=headers, timeout=30
                )
                proxy.statuses[(self.command, answer.status_code)] += 1
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in {"content-length", "transfer-encoding", "connection", "content-encoding"}:
                        self.send_header(name, value)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def __getattr__(self, name: str) -> Callable[[], None]:
                # Every method goes through, also TRACE and QUERY that schemathesis tries (the gateway: 405).
                if name.startswith("do_"):
                    return self._forward
                raise AttributeError(name)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "SigningProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def test_the_partner_api_signed_as_a_corporation_answers_without_a_server_error_or_a_schema_break(
    fuzz_stack: FuzzStack, tmp_path: Path
) -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    admin = fuzz_stack.key.mint_token([Role.admin.value], subject="fuzz-admin")
    registered = httpx.post(
        f"{fuzz_stack.gateway.url}/v1/partners",
        headers={"Authorization": f"Bearer {admin}"},
        json={
            "id": PARTNER_ID,
            "name": "Fuzz corporation",
            "kind": "housing_corporation",
            "outbound_secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            "inbound_secret": secret,
        },
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    schema = httpx.get(f"{fuzz_stack.gateway.url}/openapi.json", timeout=10).json()
    (tmp_path / "openapi.json").write_text(json.dumps(schema))
    with SigningProxy(fuzz_stack.gateway.url, secret) as proxy:
        output = schemathesis(
            fuzz_stack.gateway,
            tmp_path,
            tokens=[],
            extra=[
                "--url",
                proxy.url,
                "--include-path-regex",
                "^/v1/partners/\\{partner_id\\}/(messages|signal-files)",
            ],
            env={"FUZZ_PARTNER_ID": PARTNER_ID},
        )
        # The proxy signs as the partner does: a good message through it is accepted, and its outcome is read.
        today = datetime.now(UTC).date()
        message = {
            "type": "arrears.reported",
            "reference": "HUUR-FUZZ-0001",
            "occurred_at": f"{today.isoformat()}T09:00:00Z",
            "data": {
                "initials": "J.", "surname": "Testhuis", "street": "Proefstraat", "house_number": "1",
                "postcode": "8911 AB", "city": "Leeuwarden", "arrears_amount": "850.00",
                "arrears_since": today.isoformat(), "signal_date": today.isoformat(),
            },
        }  # fmt: skip
        accepted = httpx.post(f"{proxy.url}/v1/partners/{PARTNER_ID}/messages", json=message, timeout=30)
        assert accepted.status_code == 202, accepted.text
        read = httpx.get(f"{proxy.url}/v1/partners/{PARTNER_ID}/messages/{accepted.json()['message_id']}", timeout=30)
        assert read.status_code == 200, read.text
    answered = {status for _, status in proxy.statuses}
    assert answered - {401, 404, 405}, f"the fuzzing got past the signature into the checks: {proxy.statuses}"
    assert "Test cases:" in output
