"""Who is calling: OIDC bearer tokens checked against the identity provider's JWKS, their roles and team.

A token is a JWT signed with RS256 or ES256 by a key the JWKS publishes, and carries `iss`, `aud`, `sub`,
`exp`, `iat`, a `roles` list and, for the roles that work within a team, a `team`. Endpoints take
`current_principal` or `require_roles(...)` as a dependency; a case rule asks `Principal.can_access_team`.
"""

import asyncio
import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, Self

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from service_kit.clock import Clock, SystemClock
from service_kit.errors import Forbidden
from service_kit.settings import DEVELOPMENT_OIDC_KEY_ID, Environment, ServiceSettings

log = logging.getLogger(__name__)

# Asymmetric only: "none" and HS* would let whoever knows the (public) key sign tokens.
ACCEPTED_ALGORITHMS = ("RS256", "ES256")
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]
CLOCK_LEEWAY = timedelta(seconds=30)
VERIFIED_CACHE_TTL = timedelta(seconds=60)
VERIFIED_CACHE_SIZE = 10_000
MAX_JWKS_BYTES = 512 * 1024
MIN_RSA_KEY_BITS = 2048


class Role(StrEnum):
    """The values a token's `roles` claim may hold; any other value is ignored."""

    outreach_worker = "outreach_worker"
    debt_counsellor = "debt_counsellor"
    team_lead = "team_lead"
    policy_analyst = "policy_analyst"
    admin = "admin"
    partner_gateway = "partner_gateway"  # the partner gateway's service account, not a person
    notifier = "notifier"  # the notifier's service account: reads a household's contact details, creates tasks


# Roles that work within one area team: their token must name it, and their case access ends there.
TEAM_ROLES = frozenset({Role.outreach_worker, Role.debt_counsellor, Role.team_lead})
# Roles that reach the cases of every team.
ALL_TEAMS_ROLES = frozenset({Role.admin, Role.partner_gateway, Role.notifier})
SERVICE_ROLES = frozenset({Role.partner_gateway, Role.notifier})


@dataclass(frozen=True)
class Principal:
    """The caller a verified token names."""

    subject: str
    roles: frozenset[Role]
    team: str | None = None

    def has_role(self, *roles: Role) -> bool:
        """True when the principal holds any of `roles`."""
        return not self.roles.isdisjoint(roles)

    @property
    def is_service(self) -> bool:
        return self.has_role(*SERVICE_ROLES)

    @property
    def sees_all_teams(self) -> bool:
        return self.has_role(*ALL_TEAMS_ROLES)

    def can_access_team(self, case_team: str) -> bool:
        """Whether a case of `case_team` may be opened. A policy analyst sees aggregates only, never a case."""
        if self.sees_all_teams:
            return True
        return self.team is not None and self.team == case_team and self.has_role(*TEAM_ROLES)


class InvalidToken(HTTPException):
    """401: no usable bearer token; answered as problem+json with an RFC 6750 `WWW-Authenticate` challenge.

    The reason is one of the fixed sentences below, never a piece of the token."""

    def __init__(self, reason: str, *, challenge_error: str | None = "invalid_token") -> None:
        challenge = "Bearer"
        if challenge_error is not None:
            challenge = f'Bearer error="{challenge_error}", error_description="{reason}"'
        super().__init__(HTTPStatus.UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": challenge})
        self.reason = reason


class JwksUnavailable(RuntimeError):
    """The JWKS could not be read or is not a JWKS."""


class UnsafeJwks(RuntimeError):
    """The JWKS holds a key this deployment refuses (production: the local development key)."""


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class TokenVerifier:
    """Verifies bearer tokens against a JWKS read over http(s) or from a local file.

    Keys are cached by `kid`. A token signed by an unknown key makes the verifier read the JWKS again (the
    identity provider rotated its keys), at most once per `min_refetch_interval`; keys older than
    `max_key_age` are read again on the next token. Tokens live in wall-clock time, so the clock here is the
    system's, not the clock a service's rules run on (tests set that one to a case's calendar)."""

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        refused_key_ids: Collection[str] = (),
        keys_required_at_start: bool = False,
        clock: Clock | None = None,
        leeway: timedelta = CLOCK_LEEWAY,
        min_refetch_interval: timedelta = timedelta(seconds=10),
        max_key_age: timedelta = timedelta(hours=1),
        http_timeout_seconds: float = 5.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.refused_key_ids = frozenset(refused_key_ids)
        self.keys_required_at_start = keys_required_at_start
        self._clock = clock or SystemClock()
        self._leeway = leeway
        self._min_refetch_interval = min_refetch_interval
        self._max_key_age = max_key_age
        self._http_timeout = http_timeout_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._verified: dict[str, tuple[Principal, datetime, datetime]] = {}
        self._loaded_at: datetime | None = None
        self._attempted_at: datetime | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: ServiceSettings, *, clock: Clock | None = None) -> Self:
        production = settings.environment is Environment.production
        return cls(
            jwks_url=settings.oidc_jwks_url,
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            refused_key_ids={DEVELOPMENT_OIDC_KEY_ID} if production else (),
            keys_required_at_start=production,
            clock=clock,
        )

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    async def open(self) -> None:
        """Read the keys at app start. Production refuses to start without them or with a refused key;
        elsewhere a missing JWKS is only logged (`make token` creates the development one when first run)."""
        try:
            await self.load()
        except JwksUnavailable:
            if self.keys_required_at_start:
                raise
            log.warning("no bearer token can be verified yet: the JWKS at %s cannot be read", self.jwks_url)

    async def load(self) -> None:
        """Read the JWKS now and replace the cached keys; raises JwksUnavailable or UnsafeJwks."""
        self._attempted_at = self._clock.now()
        document = await self._read_jwks()
        self._keys = self._parse_jwks(document)
        self._loaded_at = self._clock.now()
        log.info("loaded %d signing key(s) from %s", len(self._keys), self.jwks_url)

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; InvalidToken (401) or Forbidden (403, no usable role) otherwise.

        A token verified in the last VERIFIED_CACHE_SECONDS is not verified again (a caller sends the same token
        with every request; the signature check is the costly part); its expiry is still checked every time."""
        cached = self._verified.get(token)
        now = self._clock.now()
        if cached is not None and cached[1] > now and cached[2] > now:
            return cached[0]
        principal, expires_at = await self._verify_uncached(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (principal, expires_at, now + VERIFIED_CACHE_TTL)
        return principal

    async def _verify_uncached(self, token: str) -> tuple[Principal, datetime]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("the bearer token is not a well-formed JWT") from None
        if header.get("alg") not in ACCEPTED_ALGORITHMS:
            raise InvalidToken("the token's signing algorithm is not accepted (RS256 or ES256 only)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key (kid)")
        key = await self._key(kid)
        if key is None:
            raise InvalidToken("the token is signed by a key the identity provider does not publish")
        claims = self._decode(token, key)
        self._check_times(claims)
        return self._principal(claims), datetime.fromtimestamp(float(claims["exp"]), UTC)

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        key = self._keys.get(kid)
        if key is not None and not self._stale():
            return key
        async with self._lock:
            key = self._keys.get(kid)
            if key is not None and not self._stale():
                return key  # another request read the JWKS while this one waited
            now = self._clock.now()
            if self._attempted_at is not None and now - self._attempted_at < self._min_refetch_interval:
                return key  # tokens with made-up kids must not turn into a flood of JWKS requests
            try:
                await self.load()
            except (JwksUnavailable, UnsafeJwks) as exc:
                log.error("cannot refresh the signing keys, keeping the known ones: %s", exc)
            return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._loaded_at is None or self._clock.now() - self._loaded_at >= self._max_key_age

    async def _read_jwks(self) -> Any:
        location = self.jwks_url
        try:
            if location.startswith(("https://", "http://")):
                async with httpx.AsyncClient(timeout=self._http_timeout) as client:
                    response = await client.get(location, headers={"Accept": "application/json"})
                    response.raise_for_status()
                    body = response.content
            else:
                body = await asyncio.to_thread(_jwks_path(location).read_bytes)
            if len(body) > MAX_JWKS_BYTES:
                raise JwksUnavailable(f"the JWKS at {location} is larger than {MAX_JWKS_BYTES} bytes")
            return json.loads(body)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            raise JwksUnavailable(f"cannot read the JWKS at {location}: {exc}") from exc

    def _parse_jwks(self, document: Any) -> dict[str, jwt.PyJWK]:
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise JwksUnavailable(f"{self.jwks_url} is not a JWKS: it has no list of keys")
        entries = [entry for entry in document["keys"] if isinstance(entry, dict)]
        refused = sorted(self.refused_key_ids & {str(entry.get("kid")) for entry in entries})
        if refused:
            raise UnsafeJwks(
                f"the JWKS at {self.jwks_url} holds the refused key(s) {', '.join(refused)}: the local development "
                "key is never trusted in production"
            )
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            kid = entry.get("kid")
            # A JWKS publishes public signing keys; anything else (encryption keys, private parts) is skipped.
            if not isinstance(kid, str) or entry.get("use", "sig") != "sig" or "d" in entry:
                continue
            if entry.get("kty") not in ("RSA", "EC"):
                continue
            try:
                key = jwt.PyJWK(entry)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
                log.warning("skipping signing key %s of %s: %s", kid, self.jwks_url, exc)
                continue
            if isinstance(key.key, rsa.RSAPublicKey) and key.key.key_size < MIN_RSA_KEY_BITS:
                log.warning("skipping signing key %s of %s: RSA below %d bits", kid, self.jwks_url, MIN_RSA_KEY_BITS)
                continue
            if key.algorithm_name in ACCEPTED_ALGORITHMS:
                keys[kid] = key
        return keys

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],  # from the trusted key, never from the token's header
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": REQUIRED_CLAIMS,
                    # Times are checked in _check_times against the injected clock.
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidToken("the token's signature does not verify") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidToken("the token's algorithm does not match its signing key") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token lacks the {exc.claim} claim") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token is meant for another audience (aud)") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token comes from an issuer this platform does not trust (iss)") from None
        except jwt.PyJWTError:
            raise InvalidToken("the bearer token is not valid") from None

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock.now().timestamp()
        leeway = self._leeway.total_seconds()
        for claim in ("exp", "iat", "nbf"):
            if claim in claims and not _is_number(claims[claim]):
                raise InvalidToken(f"the token's {claim} claim is not a number")
        if claims["exp"] <= now - leeway:
            raise InvalidToken("the token has expired")
        if claims["iat"] > now + leeway:
            raise InvalidToken("the token is issued in the future")
        if "nbf" in claims and claims["nbf"] > now + leeway:
            raise InvalidToken("the token is not valid yet (nbf)")

    def _principal(self, claims: dict[str, Any]) -> Principal:
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("the token's sub claim is empty")
        team = claims.get("team")
        if team is not None and (not isinstance(team, str) or not team):
            raise InvalidToken("the token's team claim is not a team name")
        raw_roles = claims.get("roles")
        known = {role.value for role in Role}
        roles = frozenset(Role(value) for value in (raw_roles if isinstance(raw_roles, list) else []) if value in known)
        if not roles:
            raise Forbidden(
                "the token carries none of this platform's roles in its roles claim",
                known_roles=sorted(known),
            )
        if team is None and roles & TEAM_ROLES and not roles & ALL_TEAMS_ROLES:
            scoped = ", ".join(sorted(roles & TEAM_ROLES))
            raise Forbidden(f"the role(s) {scoped} work within a team, and the token has no team claim")
        return Principal(subject=subject, roles=roles, team=team)


def _jwks_path(location: str) -> Path:
    if location.startswith("file://"):
        return Path(urllib.request.url2pathname(urllib.parse.urlparse(location).path))
    return Path(location)


# auto_error=False: the 401 is ours, as problem+json with the RFC 6750 challenge. The scheme puts the
# Authorize button on /docs.
bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An OIDC access token of the municipality's identity provider; locally: `make token ROLE=...`.",
    auto_error=False,
)


def token_verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("app.state.token_verifier is not set: build the app with create_service_app")
    return verifier


async def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
) -> Principal:
    """The caller of this request, from its `Authorization: Bearer` token; 401 without a valid one."""
    if credentials is None:
        if "authorization" in request.headers:
            raise InvalidToken("the Authorization header must read: Bearer <token>")
        raise InvalidToken("this needs a bearer token in the Authorization header", challenge_error=None)
    principal = await token_verifier(request).verify(credentials.credentials)
    request.state.principal = principal  # for the processing log (R17)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


class RoleGate:
    """A dependency that lets through a caller holding any of `roles` and answers 403 naming them otherwise.

    It is how an operation declares who may call it: `allowed_roles(route)` reads the gates in a route's
    dependencies (every gate must let the caller through), so the role table in the docs and the tests that walk
    it come from the same declaration the request is checked against."""

    def __init__(self, *roles: Role) -> None:
        if not roles:
            raise ValueError("require_roles needs at least one role")
        self.roles = frozenset(roles)
        self._names = [role.value for role in roles]

    async def __call__(self, principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(*self.roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(self._names)}", required_roles=self._names)
        return principal

    def __repr__(self) -> str:
        return f"RoleGate({', '.join(self._names)})"


def require_roles(*roles: Role) -> RoleGate:
    """A dependency that lets through a caller holding any of `roles` and answers 403 naming them otherwise."""
    return RoleGate(*roles)


def _gates(dependant: Dependant) -> Iterator[RoleGate]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleGate):
            yield dependency.call
        yield from _gates(dependency)


def allowed_roles(route: object) -> frozenset[Role] | None:
    """The roles that may call `route` (an APIRoute or a RouteContext of fastapi.routing.iter_route_contexts), from
    the RoleGates among its dependencies (all of them must let a caller through); None for a route that declares
    none (no bearer token asked, or a check of its own such as a partner's signature)."""
    dependant = getattr(route, "dependant", None)
    if not isinstance(dependant, Dependant):
        return None
    gates = list(_gates(dependant))
    if not gates:
        return None
    return frozenset.intersection(*(gate.roles for gate in gates))
