"""Least privilege, walked, for the partner gateway: every bearer operation of its app under /v1 called with a token
of every role. A role the route lets through (service_kit.auth.allowed_roles, the gateway's table in docs/roles.md:
the partner registry and the delivery log are for admins only) is never answered 403; any other role always is,
with problem details. Every operation under /v1 declares its roles, except the partners' own signed requests
named below.

Operations come from the app's routes (fastapi APIRoute objects), not from the OpenAPI document, and the exceptions
are named by their endpoint functions, so a path that changes shape changes nothing here."""

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from devinfra.devkey import DevKey
from partner_gateway.config import Settings
from partner_gateway.inbound.router import read_message, receive_message
from partner_gateway.main import create_app
from partner_gateway.partners.models import PartnerKind
from partner_gateway.signal_files.router import read_signal_file, take_signal_file
from service_kit.auth import TEAM_ROLES, Role, allowed_roles
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

TEAM = "team-noord"
PATH_PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

# Out of the bearer walk, by endpoint: a partner's own messages and signal files, sent and read back. A partner's
# system has no bearer token; these requests are authenticated by the partner's Standard Webhooks signature with its
# inbound secret (docs/partners.md), which no role stands in for. They are covered by the signature tests
# (test_inbound: forged, stale, replayed and captured-read signatures; test_signal_files; test_isolation).
SIGNED_BY_PARTNER: frozenset[Callable[..., Any]] = frozenset(
    {receive_message, read_message, take_signal_file, read_signal_file}
)


def operations(app: FastAPI) -> list[tuple[str, str, Callable[..., Any], frozenset[Role] | None]]:
    """(method, path, endpoint, allowed roles) of every operation of `app` under /v1."""
    found = []
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, APIRoute) and str(route.path).startswith("/v1/"):
            for method in sorted(route.methods or ()):
                found.append((method, str(route.path), original.endpoint, allowed_roles(route)))
    return sorted(found, key=lambda operation: (operation[1], operation[0]))


def test_every_operation_under_v1_declares_its_roles_but_the_partners_signed_ones(tmp_path: Path) -> None:
    app = create_app(Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}"))
    found = operations(app)
    assert found, "no operation under /v1: the walk would prove nothing"
    assert [(m, p) for m, p, endpoint, roles in found if roles is None and endpoint not in SIGNED_BY_PARTNER] == []
    # The exceptions are operations that exist and still declare no role (a stale one must go from the list).
    assert {endpoint for _m, _p, endpoint, roles in found if roles is None} == SIGNED_BY_PARTNER
    # Registering partners, their secrets and subscriptions, and the delivery log: admins only. No caseworker, no
    # policy analyst and neither service account reaches any of it.
    reached_by = {role: {(m, p) for m, p, _e, roles in found if roles and role in roles} for role in Role}
    assert all(reached == set() for role, reached in reached_by.items() if role is not Role.admin), reached_by
    assert reached_by[Role.admin]


async def test_every_operation_answers_403_exactly_to_the_roles_it_does_not_let_through(
    database_url: str, dev_key: DevKey, clock: FixedClock, partners: Any
) -> None:
    # A registered partner, so the admin reaches past the partner's lookup; the other ids are ones nobody has, so a
    # let-through call ends 404 or 422 (a rotation of the partner's secrets aside, which changes nothing walked).
    partner, _ = await partners.partner(PartnerKind.housing_corporation)
    known = {"partner_id": partner.id}

    app = create_app(Settings(_env_file=None, database_url=database_url, oidc_jwks_url=str(dev_key.jwks_path)), clock)
    walked = [operation for operation in operations(app) if operation[2] not in SIGNED_BY_PARTNER]
    assert len(walked) == len(operations(app)) - len(SIGNED_BY_PARTNER)

    wrong: list[str] = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a crash is a 500 here, as under uvicorn
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test", timeout=10) as client,
    ):
        for role in Role:
            team = TEAM if role in TEAM_ROLES else None
            token = dev_key.mint_token([role.value], team=team, subject=f"walk-{role.value}")
            headers = {"authorization": f"Bearer {token}"}
            for method, path, _endpoint, roles in walked:
                url = PATH_PARAMETER.sub(lambda m: known.get(m.group(1), str(uuid.uuid4())), path)
                json: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
                answer = await client.request(method, url, json=json, headers=headers)
                allowed = roles is not None and role in roles
                label = f"{role.value} {method} {path}"
                if allowed and answer.status_code == 403:
                    wrong.append(f"{label}: 403 though allowed: {answer.text[:200]}")
                if not allowed and answer.status_code != 403:
                    wrong.append(f"{label}: {answer.status_code} though not allowed")
                if not allowed and answer.headers.get("content-type") != "application/problem+json":
                    wrong.append(f"{label}: the 403 is not problem details")
                if answer.status_code >= 500:
                    wrong.append(f"{label}: {answer.status_code}: {answer.text[:200]}")
    assert wrong == []
