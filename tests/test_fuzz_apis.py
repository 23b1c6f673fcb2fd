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
import secrets
import subprocess
import sys
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from devinfra.loopback import ThreadedHttpServer
from devinfra.ports import free_port
from devinfra.stack import SERVICES, Stack
from service_kit.auth import Role

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS_DIR = Path(__file__).with_name("fuzz")
SEED = "20261125"
TEAM = "team-noord"
PARTNER_ID = "fuzz-corporation"
# What the signing proxy sets itself (the signature headers) or the forwarding recomputes.
REPLACED_HEADERS = {"host", "content-length", "webhook-id", "webhook-timestamp", "webhook-signature"}


@pytest.fixture(scope="module")
def fuzz_stack(postgres_url_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The three APIs without their workers (nothing here needs a broker; the probes are not in the documents), on
    fresh PostgreSQL databases, started and stopped by pid as every stack of the tests is."""
    stack = Stack(
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        database_urls={service: postgres_url_factory(f"{service.replace('-', '_')}_fuzz") for service in SERVICES},
        ports={service: free_port() for service in SERVICES},
        state_dir=tmp_path_factory.mktemp("fuzz"),
        oidc_dir=tmp_path_factory.mktemp("fuzz-oidc"),
        # The fuzzer sends far faster than a partner may; the limit itself is tested in test_rate_limit.
        extra_env={"GATEWAY_INBOUND_RATE_PER_SECOND": "100000", "GATEWAY_INBOUND_RATE_BURST": "100000"},
    )
    stack.migrate()
    with stack:
        stack.start(workers=False)
        stack.wait_ready(timeout=60, probe="/health/live")
        yield stack


def role_tokens(stack: Stack) -> list[str]:
    """One token per role: the team roles in the fuzzer's team, the others without one."""
    return [stack.token(role.value, team=TEAM, subject=f"fuzz-{role.value}") for role in Role]


def schemathesis(
    stack: Stack,
    service: str,
    tmp_path: Path,
    *,
    tokens: list[str],
    extra: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Counter[int]:
    """Runs schemathesis over `service`'s OpenAPI document with the role-rotating hooks; fails on any finding;
    gives how often each status was answered."""
    statuses = tmp_path / "statuses.txt"
    result = subprocess.run(
        [
            str(SCHEMATHESIS), "run", f"{stack.url(service)}/openapi.json",
            *extra,
            "--checks", "not_a_server_error,response_schema_conformance",
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
            "FUZZ_STATUS_FILE": str(statuses),
            **(env or {}),
        },
    )  # fmt: skip
    log = stack.child(f"{service}-api").log_tail(60)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:] + log
    assert "Hook" not in result.stderr, result.stderr[-2000:]
    return Counter(int(line) for line in statuses.read_text().split())


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_every_role_without_a_server_error_or_a_schema_break(
    fuzz_stack: Stack, service: str, tmp_path: Path
) -> None:
    answered = schemathesis(fuzz_stack, service, tmp_path, tokens=role_tokens(fuzz_stack))
    # Seven roles in turn: some were let through, some refused for their role (the role walk tests which).
    assert answered[403], answered
    assert answered[200] + answered[201] + answered[202], answered


class SigningProxy(ThreadedHttpServer):
    """Forwards every request to the gateway signed with one partner's inbound secret (Standard Webhooks): a
    body-carrying request over its exact bytes, a read over its request line (docs/partners.md)."""

    def __init__(self, target: str, secret: str) -> None:
        self.target = target
        self.webhook = Webhook(secret)
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
                    if name.lower() not in REPLACED_HEADERS and not any(ord(c) < 32 and c != "\t" for c in value)
                }
                headers |= {
                    "webhook-id": webhook_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": proxy.webhook.sign(webhook_id, now, content),
                }
                answer = httpx.request(
                    self.command, f"{proxy.target}{self.path}", content=body, headers=headers, timeout=30
                )
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

        super().__init__(Handler)


def test_the_partner_api_signed_as_a_corporation_answers_without_a_server_error_or_a_schema_break(
    fuzz_stack: Stack, tmp_path: Path
) -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    gateway = fuzz_stack.url("partner-gateway")
    registered = httpx.post(
        f"{gateway}/v1/partners",
        headers={"Authorization": f"Bearer {fuzz_stack.token(Role.admin.value, subject='fuzz-admin')}"},
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
    with SigningProxy(gateway, secret) as proxy:
        answered = schemathesis(
            fuzz_stack,
            "partner-gateway",
            tmp_path,
            tokens=[],
            extra=[
                "--url",
                f"{proxy.url}/v1",  # the document's server, /v1, through the proxy
                "--include-path-regex",
                "^/partners/\\{partner_id\\}/(messages|signal-files)",
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
    # Past the signature: the generated messages reached the schema checks (400, 415, 422), not only 401s.
    assert answered[400] + answered[415] + answered[422], answered
