"""Least privilege, walked, for the notifier: every operation of its app under /v1 called with a token of every role.
A role the route lets through (service_kit.auth.allowed_roles, the notifier's table in docs/roles.md) is never
answered 403; any other role always is, with problem details. Every operation under /v1 declares its roles, except
the few named below that ask no bearer token at all (each for a reason written next to it).

Operations come from the app's routes (fastapi APIRoute objects), not from the OpenAPI document, and the exceptions
are named by their endpoint functions, so a path that changes shape changes nothing here."""

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from devinfra.devkey import DevKey
from devinfra.ports import free_port
from notifier.config import Settings
from notifier.main import create_app
from notifier.sms_reports import receive_delivery_reports
from notifier.templating.router import list_templates, preview_template
from service_kit.auth import TEAM_ROLES, Role, allowed_roles
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

TEAM = "team-noord"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PATH_PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

# Operations under /v1 that declare no role on purpose, by endpoint:
# - the template catalogue and a preview with marked placeholders name no household and no case (a preview for a
#   case's household is its own operation behind a RoleGate); they answer anyone, tokens of every role included,
#   and are walked below as letting every role through (test_api covers them without a token);
ANSWERS_ANYONE: frozenset[Callable[..., Any]] = frozenset({list_templates, preview_template})
# - CM.com's SMS status reports are authenticated by the HTTP Basic credentials in the report URL (ADR 0010), not by
#   a bearer token: out of the bearer walk, covered by test_sms_cm (wrong credentials 401, a bearer token is not one).
NOT_BEARER: frozenset[Callable[..., Any]] = frozenset({receive_delivery_reports})


def settings(database_url: str, dev_key: DevKey, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        oidc_jwks_url=str(dev_key.jwks_path),
        # Nothing listens on either: the API never needs Kafka, and no walked call may wait on case-api.
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        case_api_url=f"http://127.0.0.1:{free_port()}",
        case_api_timeout_seconds=2.0,
        outbox_dir=tmp_path / "outbox",
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


def test_every_operation_under_v1_declares_its_roles_but_the_named_exceptions(tmp_path: Path) -> None:
    app = create_app(Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}"))
    found = operations(app)
    assert found, "no operation under /v1: the walk would prove nothing"
    excepted = ANSWERS_ANYONE | NOT_BEARER
    assert [(m, p) for m, p, endpoint, roles in found if roles is None and endpoint not in excepted] == []
    # The exceptions are operations that exist and still declare no role (a stale one must go from the list).
    assert {endpoint for _m, _p, endpoint, roles in found if roles is None} == excepted
    reached_by = {role: {(m, p) for m, p, _e, roles in found if roles and role in roles} for role in Role}
    # The caseworkers' view of notifications: no service account and no policy analyst (aggregates only) reaches it.
    assert reached_by[Role.partner_gateway] == reached_by[Role.notifier] == reached_by[Role.policy_analyst] == set()


async def test_every_operation_answers_403_exactly_to_the_roles_it_does_not_let_through(
    database_url: str,
    dev_key: DevKey,
    tmp_path: Path,
    apply_events: Callable[..., Awaitable[None]],
    events: Any,
) -> None:
    # A case of TEAM the notifier knows, so a role let through reaches past the team check; the other ids are ones
    # nobody has, so a let-through call ends 404 or 422, never in a change.
    opened = events.opened(team=TEAM)
    await apply_events(opened)
    known = {"case_id": str(opened.subject)}

    app = create_app(settings(database_url, dev_key, tmp_path), clock=FixedClock(NOW))
    walked = [operation for operation in operations(app) if operation[2] not in NOT_BEARER]
    assert len(walked) == len(operations(app)) - len(NOT_BEARER)

    wrong: list[str] = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a crash is a 500 here, as under uvicorn
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://notifier.test", timeout=10) as client,
    ):
        for role in Role:
            team = TEAM if role in TEAM_ROLES else None
            token = dev_key.mint_token([role.value], team=team, subject=f"walk-{role.value}")
            headers = {"authorization": f"Bearer {token}"}
            for method, path, endpoint, roles in walked:
                url = PATH_PARAMETER.sub(lambda m: known.get(m.group(1), str(uuid.uuid4())), path)
                json: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
                answer = await client.request(method, url, json=json, headers=headers)
                allowed = endpoint in ANSWERS_ANYONE or (roles is not None and role in roles)
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
