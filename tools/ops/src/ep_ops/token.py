"""`ep-ops token`: a development bearer token signed by the local development key (devinfra.devkey); never in
production, where tokens come from the identity provider."""

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from devinfra.devkey import DevKey
from ep_ops.errors import OpsError
from ep_ops.output import Report
from service_kit.auth import ALL_TEAMS_ROLES, TEAM_ROLES, Role
from service_kit.settings import Environment

# ENVIRONMENT, or any service's own prefixed variant, set to production refuses the command.
ENVIRONMENT_VARIABLES = ("ENVIRONMENT", "CASE_API_ENVIRONMENT", "NOTIFIER_ENVIRONMENT", "GATEWAY_ENVIRONMENT")


def refuse_in_production(environ: Mapping[str, str]) -> None:
    for name in ENVIRONMENT_VARIABLES:
        if environ.get(name, "").strip().lower() == Environment.production.value:
            raise OpsError(
                f"{name}=production: development tokens are refused in production; "
                "get a token from the identity provider"
            )


def parse_roles(given: Sequence[str]) -> list[Role]:
    names = [name.strip() for value in given for name in value.split(",") if name.strip()]
    known = ", ".join(role.value for role in Role)
    unknown = [name for name in names if name not in {role.value for role in Role}]
    if not names or unknown:
        raise OpsError(f"give --role with one of: {known}" + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    return list(dict.fromkeys(Role(name) for name in names))


def token(
    roles: Sequence[str],
    *,
    team: str | None,
    minutes: int = 60,
    subject: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Report:
    refuse_in_production(os.environ if environ is None else environ)
    parsed = parse_roles(roles)
    if team is None and set(parsed) & TEAM_ROLES and not set(parsed) & ALL_TEAMS_ROLES:
        raise OpsError("the roles outreach_worker, debt_counsellor and team_lead work within a team: add --team")
    if minutes <= 0:
        raise OpsError("--minutes must be positive")
    lifetime = timedelta(minutes=minutes)
    signed = DevKey.ensure().mint_token(parsed, team=team, subject=subject, lifetime=lifetime)
    row = {
        "token": signed,
        "roles": ",".join(parsed),
        "team": team,
        "expires_at": datetime.now(UTC) + lifetime,
    }
    return Report(columns=["token"], rows=[row], totals={})
