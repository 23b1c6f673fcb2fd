"""Least privilege, walked: every operation of case-api called with a token of every role. A role the route lets
through (service_kit.auth.allowed_roles, the table in docs/roles.md) is never answered 403; any other role always
is. The service accounts reach exactly the operations their messages need (deps.PARTNER_GATEWAY_OPERATIONS,
deps.NOTIFIER_OPERATIONS) and no route of case-api under /v1 goes without a declared set of roles."""

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
from case_api_fixtures import made_up_household, made_up_signal
from conftest import case_api_settings
from fastapi.routing import APIRoute, iter_route_contexts

from case_api.deps import NOTIFIER_OPERATIONS, PARTNER_GATEWAY_OPERATIONS
from case_api.main import create_app
from service_kit.auth import Role, allowed_roles

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
TEAM_ROLES = {Role.outreach_worker, Role.debt_counsellor, Role.team_lead}


def operations(tmp_path: Path) -> dict[tuple[str, str], frozenset[Role] | None]:
    app = create_app(case_api_settings(f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}"))
    found: dict[tuple[str, str], frozenset[Role] | None] = {}
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and str(route.path).startswith("/v1/"):
            for method in route.methods or ():
                found[(method, str(route.path))] = allowed_roles(route)
    return found


def test_every_operation_declares_its_roles_and_the_service_accounts_reach_exactly_their_operations(
    tmp_path: Path,
) -> None:
    found = operations(tmp_path)
    assert [operation for operation, roles in found.items() if roles is None] == []
    reached_by = {role: {op for op, roles in found.items() if roles and role in roles} for role in Role}
    assert reached_by[Role.partner_gateway] == PARTNER_GATEWAY_OPERATIONS
    assert reached_by[Role.notifier] == NOTIFIER_OPERATIONS
    # Never a case with its names and addresses, nor a household's contact details, for the gateway.
    assert not {("GET", "/v1/cases"), ("GET", "/v1/cases/{case_id}"), ("GET", "/v1/cases/{case_id}/household")} & (
        reached_by[Role.partner_gateway] | reached_by[Role.notifier]
    )
    # A policy analyst reads aggregates only.
    assert all(path.startswith("/v1/statistics/") for _method, path in reached_by[Role.policy_analyst])


async def test_every_operation_answers_403_exactly_to_the_roles_it_does_not_let_through(
    case_api_client: Client, tmp_path: Path
) -> None:
    found = operations(tmp_path)
    body = {"team": "team-noord", "household": made_up_household(postcode="8971 AA"), "signal": made_up_signal()}
    async with case_api_client() as lead:
        opened = await lead.post("/v1/signals", json=body)
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]

    wrong: list[str] = []
    for role in Role:
        team = "team-noord" if role in TEAM_ROLES else None
        async with case_api_client(roles=(role.value,), team=team) as client:
            for (method, path), roles in sorted(found.items()):
                url = path.replace("{case_id}", case_id)
                while "{" in url:  # the other ids: one nobody has, so a let-through call ends 404 or 422
                    start, end = url.index("{"), url.index("}")
                    url = url[:start] + str(uuid.uuid4()) + url[end + 1 :]
                json = {} if method in ("POST", "PUT", "PATCH") else None
                answer = await client.request(method, url, json=json)
                allowed = roles is not None and role in roles
                if allowed and answer.status_code == 403:
                    wrong.append(f"{role.value} {method} {path}: 403 though allowed: {answer.text[:200]}")
                if not allowed and answer.status_code != 403:
                    wrong.append(f"{role.value} {method} {path}: {answer.status_code} though not allowed")
                if not allowed and answer.headers.get("content-type") != "application/problem+json":
                    wrong.append(f"{role.value} {method} {path}: the 403 is not problem details")
                if answer.status_code >= 500:
                    wrong.append(f"{role.value} {method} {path}: {answer.status_code}")
    assert wrong == []
