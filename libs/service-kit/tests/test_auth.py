"""Bearer tokens: real keys, a JWKS served over real HTTP on loopback, and the answers a caller gets."""

import asyncio
import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any, ClassVar

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import APIRouter, Depends, FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from service_kit.app import create_service_app
from service_kit.auth import (
    CurrentPrincipal,
    InvalidToken,
    JwksUnavailable,
    Principal,
    Role,
    TokenVerifier,
    UnsafeJwks,
    require_roles,
)
from service_kit.clock import FixedClock
from service_kit.errors import PROBLEM_JSON, Forbidden
from service_kit.settings import (
    DEVELOPMENT_JWKS_PATH,
    DEVELOPMENT_OIDC_ISSUER,
    DEVELOPMENT_OIDC_KEY_ID,
    Environment,
    ServiceSettings,
)

ISSUER = "https://login.gemeente.invalid/realms/eviction-prevention"
AUDIENCE = "eviction-prevention"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POSTGRES_URL = "postgresql+asyncpg://case_api:s3cr3t@db.gemeente.invalid:5432/case_api"
MUNICIPAL_OIN = "00000001002220647000"


@dataclass
class SigningKey:
    """A key pair of the identity provider: signs tokens, publishes its public half."""

    kid: str
    algorithm: str = "ES256"
    private: Any = field(init=False)

    def __post_init__(self) -> None:
        if self.algorithm == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        as_jwk = ECAlgorithm.to_jwk if self.algorithm == "ES256" else RSAAlgorithm.to_jwk
        return {**as_jwk(public, as_dict=True), "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers={"kid": kid or self.kid})


def claims(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "c.de-vries",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
        "roles": ["debt_counsellor"],
        "team": "team-noord",
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([part(json.dumps(header).encode()), part(json.dumps(payload).encode()), part(signature)])


class JwksServer:
    """The identity provider's JWKS endpoint, over real HTTP on loopback; counts what it serves."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                body = json.dumps(server.document).encode()
                self.send_response(200 if self.path == "/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    def publish(self, *keys: SigningKey | dict[str, Any]) -> None:
        self.document = {"keys": [key.jwk() if isinstance(key, SigningKey) else key for key in keys]}


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    server.thread.start()
    yield server
    server.http.shutdown()
    server.http.server_close()
    server.thread.join(5)


@pytest.fixture
def es_key() -> SigningKey:
    return SigningKey("idp-es-2026-03")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def verifier(jwks_server: JwksServer, es_key: SigningKey, clock: FixedClock) -> TokenVerifier:
    jwks_server.publish(es_key)
    return TokenVerifier(jwks_url=jwks_server.url, issuer=ISSUER, audience=AUDIENCE, clock=clock)


async def refused(verifier: TokenVerifier, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.status_code == 401
    assert not token or token not in caught.value.reason
    return caught.value


# --- accepted tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
async def test_a_valid_token_gives_its_subject_roles_and_team(
    jwks_server: JwksServer, clock: FixedClock, algorithm: str
) -> None:
    key = SigningKey(f"idp-{algorithm}", algorithm)
    jwks_server.publish(key)
    verifier = TokenVerifier(jwks_url=jwks_server.url, issuer=ISSUER, audience=AUDIENCE, clock=clock)

    principal = await verifier.verify(key.sign(claims(roles=["team_lead", "debt_counsellor"])))

    assert principal == Principal(
        subject="c.de-vries", roles=frozenset({Role.team_lead, Role.debt_counsellor}), team="team-noord"
    )


async def test_unknown_roles_are_ignored(verifier: TokenVerifier, es_key: SigningKey) -> None:
    principal = await verifier.verify(es_key.sign(claims(roles=["offline_access", "team_lead", "superuser"])))

    assert principal.roles == {Role.team_lead}


async def test_an_audience_list_that_names_the_platform_is_accepted(
    verifier: TokenVerifier, es_key: SigningKey
) -> None:
    principal = await verifier.verify(es_key.sign(claims(aud=["account", AUDIENCE])))

    assert principal.subject == "c.de-vries"


async def test_a_token_that_expired_within_the_leeway_is_still_accepted(
    verifier: TokenVerifier, es_key: SigningKey, clock: FixedClock
) -> None:
    token = es_key.sign(claims(exp=int(NOW.timestamp())))
    clock.advance(timedelta(seconds=29))

    assert (await verifier.verify(token)).team == "team-noord"


@pytest.mark.parametrize("role", ["admin", "policy_analyst", "partner_gateway"])
async def test_roles_beyond_one_team_need_no_team_claim(verifier: TokenVerifier, es_key: SigningKey, role: str) -> None:
    principal = await verifier.verify(es_key.sign(claims(roles=[role], team=None)))

    assert principal.team is None
    assert principal.roles == {Role(role)}


# --- refused tokens: 401 ------------------------------------------------------------------------------


async def test_an_expired_token_is_refused(verifier: TokenVerifier, es_key: SigningKey, clock: FixedClock) -> None:
    token = es_key.sign(claims(exp=int(NOW.timestamp())))
    clock.advance(timedelta(seconds=31))

    assert (await refused(verifier, token)).reason == "the token has expired"


async def test_a_token_issued_in_the_future_is_refused(verifier: TokenVerifier, es_key: SigningKey) -> None:
    token = es_key.sign(claims(iat=int((NOW + timedelta(minutes=2)).timestamp())))

    assert (await refused(verifier, token)).reason == "the token is issued in the future"


async def test_a_token_of_another_issuer_is_refused(verifier: TokenVerifier, es_key: SigningKey) -> None:
    token = es_key.sign(claims(iss="https://login.elders.invalid"))

    assert "issuer" in (await refused(verifier, token)).reason


async def test_a_token_for_another_audience_is_refused(verifier: TokenVerifier, es_key: SigningKey) -> None:
    token = es_key.sign(claims(aud="another-application"))

    assert "audience" in (await refused(verifier, token)).reason


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud"])
async def test_a_token_without_a_required_claim_is_refused(
    verifier: TokenVerifier, es_key: SigningKey, claim: str
) -> None:
    token = es_key.sign(claims(**{claim: None}))

    assert (await refused(verifier, token)).reason == f"the token lacks the {claim} claim"


async def test_a_token_signed_by_another_key_under_a_published_kid_is_refused(
    verifier: TokenVerifier, es_key: SigningKey
) -> None:
    impostor = SigningKey(es_key.kid)

    assert (await refused(verifier, impostor.sign(claims()))).reason == "the token's signature does not verify"


async def test_a_token_with_alg_none_is_refused(verifier: TokenVerifier, es_key: SigningKey) -> None:
    token = unsigned({"alg": "none", "typ": "JWT", "kid": es_key.kid}, claims(roles=["admin"]))

    assert "algorithm" in (await refused(verifier, token)).reason


async def test_an_hs256_token_keyed_with_the_public_key_is_refused(verifier: TokenVerifier, es_key: SigningKey) -> None:
    # The algorithm-confusion attack: the public key is public, so an HMAC "signed" with it proves nothing.
    header = {"alg": "HS256", "typ": "JWT", "kid": es_key.kid}
    signing_input = unsigned(header, claims(roles=["admin"])).rsplit(".", 1)[0]
    signature = hmac.new(es_key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    token = unsigned(header, claims(roles=["admin"]), signature)

    assert "algorithm" in (await refused(verifier, token)).reason


async def test_a_token_whose_algorithm_does_not_match_its_key_is_refused(
    jwks_server: JwksServer, clock: FixedClock
) -> None:
    rsa_key = SigningKey("idp-rsa", "RS256")
    jwks_server.publish(rsa_key)
    verifier = TokenVerifier(jwks_url=jwks_server.url, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    # Signed with an EC key but naming the RSA key: the RSA key's algorithm decides, and it does not match.
    token = SigningKey("other").sign(claims(), kid=rsa_key.kid)

    assert "algorithm" in (await refused(verifier, token)).reason


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJFUzI1NiJ9..."])
async def test_a_malformed_token_is_refused(verifier: TokenVerifier, token: str) -> None:
    assert (await refused(verifier, token)).reason in {
        "the bearer token is not a well-formed JWT",
        "the token names no signing key (kid)",
    }


async def test_a_token_without_a_kid_is_refused(verifier: TokenVerifier, es_key: SigningKey) -> None:
    token = jwt.encode(claims(), es_key.private, algorithm="ES256")

    assert (await refused(verifier, token)).reason == "the token names no signing key (kid)"


# --- refused tokens: 403 ------------------------------------------------------------------------------


@pytest.mark.parametrize("roles", [[], ["offline_access", "uma_authorization"], "team_lead"])
async def test_a_token_without_a_known_role_is_forbidden(
    verifier: TokenVerifier, es_key: SigningKey, roles: Any
) -> None:
    with pytest.raises(Forbidden, match="none of this platform's roles"):
        await verifier.verify(es_key.sign(claims(roles=roles)))


@pytest.mark.parametrize("role", ["outreach_worker", "debt_counsellor", "team_lead"])
async def test_a_team_role_without_a_team_claim_is_forbidden(
    verifier: TokenVerifier, es_key: SigningKey, role: str
) -> None:
    with pytest.raises(Forbidden, match=f"{role} work within a team"):
        await verifier.verify(es_key.sign(claims(roles=[role], team=None)))


# --- the JWKS: rotation, refetch limits, files, refused keys -------------------------------------------


async def test_an_unknown_kid_reads_the_jwks_once_more_so_a_rotated_key_works(
    verifier: TokenVerifier, jwks_server: JwksServer, es_key: SigningKey, clock: FixedClock
) -> None:
    await verifier.open()
    assert jwks_server.requests == 1
    rotated = SigningKey("idp-es-2026-06")
    jwks_server.publish(es_key, rotated)
    clock.advance(timedelta(seconds=10))

    principals = await asyncio.gather(*(verifier.verify(rotated.sign(claims())) for _ in range(5)))

    assert {principal.subject for principal in principals} == {"c.de-vries"}
    assert jwks_server.requests == 2
    assert verifier.key_ids == {es_key.kid, rotated.kid}


async def test_unknown_kids_read_the_jwks_at_most_once_per_interval(
    verifier: TokenVerifier, jwks_server: JwksServer, clock: FixedClock
) -> None:
    await verifier.open()
    stranger = SigningKey("made-up")

    for _ in range(3):
        await refused(verifier, stranger.sign(claims()))
    assert jwks_server.requests == 1  # the first refetch is still within the interval of the start

    clock.advance(timedelta(seconds=10))
    for _ in range(3):
        await refused(verifier, stranger.sign(claims()))
    assert jwks_server.requests == 2


async def test_keys_are_read_again_when_they_are_an_hour_old(
    verifier: TokenVerifier, jwks_server: JwksServer, es_key: SigningKey, clock: FixedClock
) -> None:
    await verifier.open()
    jwks_server.publish(SigningKey("idp-es-2026-06"))  # es_key was revoked
    clock.advance(timedelta(hours=1))

    await refused(
        verifier, es_key.sign(claims(iat=int(clock.now().timestamp()), exp=int(clock.now().timestamp()) + 60))
    )
    assert jwks_server.requests == 2


async def test_keys_that_cannot_verify_a_token_are_not_trusted(jwks_server: JwksServer, clock: FixedClock) -> None:
    good = SigningKey("good")
    weak_rsa = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be skipped
    jwks_server.publish(
        good,
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {**SigningKey("encryption").jwk(), "use": "enc"},
        {**RSAAlgorithm.to_jwk(weak_rsa.public_key(), as_dict=True), "kid": "weak"},
        {**ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()).public_key(), as_dict=True), "kid": "p384"},
        {"kty": "EC", "crv": "P-256", "x": "broken", "y": "broken", "kid": "broken"},
        {"kty": "RSA", "kid": "no-numbers"},
    )
    verifier = TokenVerifier(jwks_url=jwks_server.url, issuer=ISSUER, audience=AUDIENCE, clock=clock)

    await verifier.load()

    assert verifier.key_ids == {"good"}


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
async def test_the_jwks_may_be_a_local_file(
    tmp_path: Path, es_key: SigningKey, clock: FixedClock, as_url: bool
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [es_key.jwk()]}))
    location = path.as_uri() if as_url else str(path)
    verifier = TokenVerifier(jwks_url=location, issuer=ISSUER, audience=AUDIENCE, clock=clock)

    assert (await verifier.verify(es_key.sign(claims()))).subject == "c.de-vries"


@pytest.mark.parametrize(
    "document", [b"<html>login</html>", b'{"issuer": "x"}', b'["not", "a", "jwks"]'], ids=["html", "no-keys", "list"]
)
async def test_what_is_not_a_jwks_is_unavailable(tmp_path: Path, document: bytes, clock: FixedClock) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(document)
    verifier = TokenVerifier(jwks_url=str(path), issuer=ISSUER, audience=AUDIENCE, clock=clock)

    with pytest.raises(JwksUnavailable):
        await verifier.load()


async def test_an_unreachable_jwks_is_only_logged_outside_production(
    clock: FixedClock, caplog: pytest.LogCaptureFixture, es_key: SigningKey
) -> None:
    verifier = TokenVerifier(jwks_url="http://127.0.0.1:9/jwks.json", issuer=ISSUER, audience=AUDIENCE, clock=clock)

    await verifier.open()

    assert "cannot be read" in caplog.text
    assert (await refused(verifier, es_key.sign(claims()))).reason.endswith("does not publish")


async def test_an_unreachable_jwks_stops_a_production_start(clock: FixedClock) -> None:
    verifier = TokenVerifier(
        jwks_url="http://127.0.0.1:9/jwks.json",
        issuer=ISSUER,
        audience=AUDIENCE,
        keys_required_at_start=True,
        clock=clock,
    )

    with pytest.raises(JwksUnavailable, match="cannot read the JWKS"):
        await verifier.open()


async def test_a_jwks_holding_a_refused_key_id_is_refused(jwks_server: JwksServer, es_key: SigningKey) -> None:
    jwks_server.publish(es_key, SigningKey(DEVELOPMENT_OIDC_KEY_ID))
    verifier = TokenVerifier(
        jwks_url=jwks_server.url, issuer=ISSUER, audience=AUDIENCE, refused_key_ids={DEVELOPMENT_OIDC_KEY_ID}
    )

    with pytest.raises(UnsafeJwks, match=DEVELOPMENT_OIDC_KEY_ID):
        await verifier.open()


# --- team scope -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "team", "own_team", "other_team"),
    [
        ({Role.outreach_worker}, "team-noord", True, False),
        ({Role.debt_counsellor}, "team-noord", True, False),
        ({Role.team_lead}, "team-noord", True, False),
        ({Role.policy_analyst}, "team-noord", False, False),
        ({Role.policy_analyst}, None, False, False),
        ({Role.admin}, None, True, True),
        ({Role.partner_gateway}, None, True, True),
        ({Role.policy_analyst, Role.team_lead}, "team-noord", True, False),
    ],
    ids=["outreach", "counsellor", "lead", "analyst-with-team", "analyst", "admin", "gateway", "analyst-and-lead"],
)
def test_case_access_follows_the_role_and_team(
    roles: set[Role], team: str | None, own_team: bool, other_team: bool
) -> None:
    principal = Principal(subject="someone", roles=frozenset(roles), team=team)

    assert principal.can_access_team("team-noord") is own_team
    assert principal.can_access_team("team-zuid") is other_team


def test_the_partner_gateway_is_a_service_and_a_person_is_not() -> None:
    gateway = Principal(subject="partner-gateway", roles=frozenset({Role.partner_gateway}))
    admin = Principal(subject="beheer", roles=frozenset({Role.admin}))

    assert gateway.is_service
    assert not admin.is_service
    assert admin.has_role(Role.team_lead, Role.admin)
    assert not admin.has_role(Role.team_lead)


# --- settings -----------------------------------------------------------------------------------------


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EP_AUTH_TEST_", env_file=None, extra="ignore")

    service_name: ClassVar[str] = "auth-test"


def production(**overrides: str) -> AuthSettings:
    values: dict[str, Any] = {
        "environment": "production",
        "database_url": POSTGRES_URL,
        "oin": MUNICIPAL_OIN,
        "oidc_jwks_url": f"{ISSUER}/protocol/openid-connect/certs",
        "oidc_issuer": ISSUER,
        **overrides,
    }
    return AuthSettings(**values)


def test_the_defaults_trust_the_local_development_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OIDC_JWKS_URL", "OIDC_ISSUER", "OIDC_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    settings = AuthSettings()

    assert settings.oidc_jwks_url == DEVELOPMENT_JWKS_PATH
    assert settings.oidc_issuer == DEVELOPMENT_OIDC_ISSUER
    assert settings.oidc_audience == "eviction-prevention"


def test_oidc_settings_are_read_without_the_prefix_and_the_prefixed_name_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OIDC_JWKS_URL", "https://login.gemeente.invalid/certs")
    monkeypatch.setenv("OIDC_ISSUER", "https://login.gemeente.invalid")
    monkeypatch.setenv("EP_AUTH_TEST_OIDC_ISSUER", "https://login.team.invalid")
    monkeypatch.delenv("OIDC_AUDIENCE", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("OIDC_AUDIENCE=case-api-from-file\nOIDC_ISSUER=https://ignored.invalid\n")

    settings = AuthSettings(_env_file=env_file)

    assert settings.oidc_jwks_url == "https://login.gemeente.invalid/certs"
    assert settings.oidc_issuer == "https://login.team.invalid"
    assert settings.oidc_audience == "case-api-from-file"


def test_production_accepts_an_identity_provider() -> None:
    assert production().oidc_issuer == ISSUER


@pytest.mark.parametrize(
    "jwks_url",
    [DEVELOPMENT_JWKS_PATH, "/etc/eviction-prevention/jwks.json", "file:///etc/jwks.json", "http://idp.invalid/certs"],
)
def test_production_refuses_a_jwks_file_or_plain_http(jwks_url: str) -> None:
    with pytest.raises(ValidationError, match="oidc_jwks_url must be the identity provider's https:// JWKS URL"):
        production(oidc_jwks_url=jwks_url)


def test_production_refuses_the_development_issuer() -> None:
    with pytest.raises(ValidationError, match="oidc_issuer is the development issuer"):
        production(oidc_issuer=DEVELOPMENT_OIDC_ISSUER)


def test_a_production_verifier_refuses_the_development_key_and_needs_its_keys_at_start() -> None:
    verifier = TokenVerifier.from_settings(production())
    development = TokenVerifier.from_settings(AuthSettings(environment=Environment.development))

    assert verifier.refused_key_ids == {DEVELOPMENT_OIDC_KEY_ID}
    assert verifier.keys_required_at_start
    assert development.refused_key_ids == frozenset()
    assert not development.keys_required_at_start


# --- through HTTP: problem+json, the challenge, 403 naming roles, OpenAPI ------------------------------

ClientOf = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
TeamLeadOrAdmin = Annotated[Principal, Depends(require_roles(Role.team_lead, Role.admin))]


def protected_router() -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        """Who the token names."""
        return {"subject": principal.subject, "roles": sorted(principal.roles), "team": principal.team}

    @router.get("/escalations")
    async def escalations(principal: TeamLeadOrAdmin) -> dict[str, str]:
        """Team leads and admins only."""
        return {"subject": principal.subject}

    return router


@pytest.fixture
def app_of(
    kit_settings: Callable[..., ServiceSettings], jwks_server: JwksServer, es_key: SigningKey
) -> Callable[..., FastAPI]:
    def make(**overrides: Any) -> FastAPI:
        jwks_server.publish(es_key)
        settings = kit_settings(oidc_jwks_url=jwks_server.url, oidc_issuer=ISSUER, **overrides)
        return create_service_app(settings=settings, title="auth test", description="", routers=[protected_router()])

    return make


def now_claims(**overrides: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return claims(iat=now, exp=now + 300, **overrides)


async def test_a_valid_bearer_token_reaches_the_endpoint(
    app_of: Callable[..., FastAPI], client_of: ClientOf, es_key: SigningKey
) -> None:
    async with client_of(app_of()) as client:
        response = await client.get("/v1/me", headers={"Authorization": f"Bearer {es_key.sign(now_claims())}"})

    assert response.status_code == 200
    assert response.json() == {"subject": "c.de-vries", "roles": ["debt_counsellor"], "team": "team-noord"}


async def test_a_request_without_a_token_gets_401_with_a_bearer_challenge(
    app_of: Callable[..., FastAPI], client_of: ClientOf
) -> None:
    async with client_of(app_of()) as client:
        response = await client.get("/v1/me")

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == "http://service/problems/unauthorized"
    assert response.json()["detail"] == "this needs a bearer token in the Authorization header"


@pytest.mark.parametrize("authorization", ["Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearer", "Token abc"])
async def test_a_malformed_authorization_header_gets_401(
    app_of: Callable[..., FastAPI], client_of: ClientOf, authorization: str
) -> None:
    async with client_of(app_of()) as client:
        response = await client.get("/v1/me", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["detail"] == "the Authorization header must read: Bearer <token>"


async def test_an_invalid_token_gets_401_problem_details_without_the_token(
    app_of: Callable[..., FastAPI], client_of: ClientOf, es_key: SigningKey
) -> None:
    token = es_key.sign(now_claims(aud="another-application"))
    async with client_of(app_of()) as client:
        response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="the token is meant for another audience (aud)"'
    )
    assert token not in response.text
    assert response.json()["detail"] == "the token is meant for another audience (aud)"


async def test_a_missing_role_gets_403_naming_the_roles(
    app_of: Callable[..., FastAPI], client_of: ClientOf, es_key: SigningKey
) -> None:
    async with client_of(app_of()) as client:
        counsellor = await client.get(
            "/v1/escalations", headers={"Authorization": f"Bearer {es_key.sign(now_claims())}"}
        )
        lead = await client.get(
            "/v1/escalations",
            headers={"Authorization": f"Bearer {es_key.sign(now_claims(roles=['team_lead']))}"},
        )

    assert counsellor.status_code == 403
    assert counsellor.headers["content-type"] == PROBLEM_JSON
    assert counsellor.json()["type"] == "http://service/problems/forbidden"
    assert counsellor.json()["detail"] == "this needs one of the roles: team_lead, admin"
    assert counsellor.json()["required_roles"] == ["team_lead", "admin"]
    assert lead.status_code == 200


async def test_a_token_without_a_known_role_gets_403(
    app_of: Callable[..., FastAPI], client_of: ClientOf, es_key: SigningKey
) -> None:
    async with client_of(app_of()) as client:
        response = await client.get(
            "/v1/me", headers={"Authorization": f"Bearer {es_key.sign(now_claims(roles=['offline_access']))}"}
        )

    assert response.status_code == 403
    assert "admin" in response.json()["known_roles"]


def test_require_roles_needs_a_role() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        require_roles()


async def test_the_openapi_document_declares_the_bearer_scheme(
    app_of: Callable[..., FastAPI], client_of: ClientOf
) -> None:
    async with client_of(app_of()) as client:
        document = (await client.get("/v1/openapi.json")).json()

    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert document["servers"] == [{"url": "/v1", "description": "This API, version 1"}]
    assert document["paths"]["/me"]["get"]["security"] == [{"bearer": []}]
    assert document["paths"]["/escalations"]["get"]["security"] == [{"bearer": []}]
    assert "401" in document["paths"]["/me"]["get"]["responses"]
    assert "/health/live" not in document["paths"]  # the platform's probe, not an operation of the API


async def test_a_development_app_starts_without_a_jwks_and_answers_401(
    kit_settings: Callable[..., ServiceSettings], client_of: ClientOf, tmp_path: Path, es_key: SigningKey
) -> None:
    settings = kit_settings(oidc_jwks_url=str(tmp_path / "not-yet" / "jwks.json"))
    app = create_service_app(settings=settings, title="auth test", description="", routers=[protected_router()])

    async with client_of(app) as client:
        live = await client.get("/health/live")
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {es_key.sign(now_claims())}"})

    assert live.status_code == 200
    assert me.status_code == 401


async def test_a_production_app_refuses_to_start_with_the_development_key(
    jwks_server: JwksServer, client_of: ClientOf
) -> None:
    jwks_server.publish(SigningKey(DEVELOPMENT_OIDC_KEY_ID))
    # Settings already refuse a non-https JWKS; the copy skips that check to reach the start-up one.
    settings = production().model_copy(update={"oidc_jwks_url": jwks_server.url})
    app = create_service_app(settings=settings, title="auth test", description="", routers=[protected_router()])

    with pytest.raises(UnsafeJwks, match="development key is never trusted in production"):
        async with client_of(app):
            pass
