"""The local development signing key: `make token` mints bearer tokens that the services of `make run` trust.

Generated once into `.local/dev-oidc/` (EP_DEV_OIDC_DIR overrides it): `private-key.pem` (ES256, P-256) and
`jwks.json` holding its public half with kid `ep-dev-key-1`, the file the services' default OIDC_JWKS_URL names.
Production refuses that key id and the development issuer (service_kit.settings, service_kit.auth).

    python -m devinfra.devkey token --role team_lead --team team-noord [--role ...] [--minutes 60]
    python -m devinfra.devkey jwks
"""

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from devinfra.topics import REPOSITORY_ROOT
from service_kit.auth import ALL_TEAMS_ROLES, TEAM_ROLES, Role
from service_kit.settings import DEFAULT_OIDC_AUDIENCE, DEVELOPMENT_OIDC_ISSUER, DEVELOPMENT_OIDC_KEY_ID

DEV_OIDC_DIR_ENV = "EP_DEV_OIDC_DIR"
PRIVATE_KEY_FILE = "private-key.pem"
JWKS_FILE = "jwks.json"
ALGORITHM = "ES256"
DEFAULT_LIFETIME = timedelta(minutes=60)


def dev_oidc_dir() -> Path:
    """Where the development key lives: $EP_DEV_OIDC_DIR, else `.local/dev-oidc` in the repository."""
    return Path(os.environ.get(DEV_OIDC_DIR_ENV) or REPOSITORY_ROOT / ".local" / "dev-oidc")


@dataclass(frozen=True)
class DevKey:
    """The development key pair in `directory`; `DevKey.ensure()` generates it on first use."""

    directory: Path

    @property
    def private_key_path(self) -> Path:
        return self.directory / PRIVATE_KEY_FILE

    @property
    def jwks_path(self) -> Path:
        return self.directory / JWKS_FILE

    @classmethod
    def ensure(cls, directory: Path | None = None) -> "DevKey":
        """The key in `directory` (default: dev_oidc_dir()), generated once and its JWKS (re)written."""
        key = cls((directory or dev_oidc_dir()).resolve())
        key.directory.mkdir(parents=True, exist_ok=True)
        if not key.private_key_path.exists():
            _create_once(key.private_key_path, _new_private_key_pem())
        # Derived from the key on disk, so concurrent first runs still agree on one key pair.
        jwks = json.dumps(key.jwks(), indent=2) + "\n"
        if not key.jwks_path.exists() or key.jwks_path.read_text() != jwks:
            _write_atomically(key.jwks_path, jwks.encode(), mode=0o644)  # public: any local process may read it
        return key

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        loaded = serialization.load_pem_private_key(self.private_key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{self.private_key_path} is not an EC private key; delete it to generate a new one")
        return loaded

    def jwks(self) -> dict[str, Any]:
        """The JWKS the services trust: the public half of the key, with the development key id."""
        public: dict[str, Any] = ECAlgorithm.to_jwk(self.private_key().public_key(), as_dict=True)
        return {"keys": [{**public, "kid": DEVELOPMENT_OIDC_KEY_ID, "use": "sig", "alg": ALGORITHM}]}

    def mint_token(
        self,
        roles: Iterable[str],
        *,
        team: str | None = None,
        subject: str | None = None,
        lifetime: timedelta = DEFAULT_LIFETIME,
        issuer: str = DEVELOPMENT_OIDC_ISSUER,
        audience: str = DEFAULT_OIDC_AUDIENCE,
        now: datetime | None = None,
    ) -> str:
        """A signed bearer token. Roles are not checked here, so tests can mint tokens with unknown ones."""
        role_values = [str(role) for role in roles]
        if not role_values:
            raise ValueError("a token needs at least one role")
        issued_at = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject or f"dev-{role_values[0].replace('_', '-')}",
            "iat": int(issued_at.timestamp()),
            "exp": int((issued_at + lifetime).timestamp()),
            "roles": role_values,
        }
        if team is not None:
            claims["team"] = team
        return jwt.encode(claims, self.private_key(), algorithm=ALGORITHM, headers={"kid": DEVELOPMENT_OIDC_KEY_ID})


def mint_token(
    roles: Iterable[str] | str,
    team: str | None = None,
    subject: str | None = None,
    lifetime: timedelta = DEFAULT_LIFETIME,
    *,
    directory: Path | None = None,
) -> str:
    """A token signed by the development key (generated first if needed); one role may be given bare."""
    role_list = [roles] if isinstance(roles, str) else list(roles)
    return DevKey.ensure(directory).mint_token(role_list, team=team, subject=subject, lifetime=lifetime)


def _new_private_key_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _create_once(path: Path, content: bytes) -> None:
    """Write `path` only if it does not exist yet; a concurrent writer that got there first wins."""
    temporary = _temporary_copy(path, content)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _write_atomically(path: Path, content: bytes, *, mode: int) -> None:
    temporary = _temporary_copy(path, content)
    temporary.chmod(mode)
    os.replace(temporary, path)


def _temporary_copy(path: Path, content: bytes) -> Path:
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    return Path(name)


def _parse_roles(parser: argparse.ArgumentParser, given: Sequence[str]) -> list[Role]:
    names = [name.strip() for value in given for name in value.split(",") if name.strip()]
    known = ", ".join(role.value for role in Role)
    if not names:
        parser.error(f"give at least one role (make token ROLE=team_lead TEAM=team-noord); roles: {known}")
    unknown = [name for name in names if name not in {role.value for role in Role}]
    if unknown:
        parser.error(f"unknown role(s) {', '.join(unknown)}; roles: {known}")
    return list(dict.fromkeys(Role(name) for name in names))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devinfra.devkey", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a bearer token signed by the development key")
    token.add_argument("--role", action="append", default=[], help="a role; repeat it or separate roles with commas")
    token.add_argument("--team", help="the area team (needed by outreach_worker, debt_counsellor, team_lead)")
    token.add_argument("--subject", help="the sub claim (default: dev-<first role>)")
    token.add_argument("--minutes", type=int, default=60, help="lifetime in minutes (default 60)")
    commands.add_parser("jwks", help="print the path of the development JWKS (the default OIDC_JWKS_URL)")
    args = parser.parse_args(argv)

    if args.command == "jwks":
        print(DevKey.ensure().jwks_path)
        return 0

    roles = _parse_roles(token, args.role)
    team = args.team or None
    if team is None and set(roles) & TEAM_ROLES and not set(roles) & ALL_TEAMS_ROLES:
        token.error("the roles outreach_worker, debt_counsellor and team_lead work within a team: add --team")
    if args.minutes <= 0:
        token.error("--minutes must be positive")
    lifetime = timedelta(minutes=args.minutes)
    print(DevKey.ensure().mint_token(roles, team=team, subject=args.subject, lifetime=lifetime))
    until = (datetime.now(UTC) + lifetime).strftime("%H:%M UTC")
    print(f"roles {', '.join(roles)}; team {team or '-'}; valid until {until}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
