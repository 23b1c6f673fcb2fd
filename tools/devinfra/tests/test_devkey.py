"""The local development key: generated once, mints tokens the services' default settings trust, and
production refuses it."""

import json
import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from devinfra.devkey import DEV_OIDC_DIR_ENV, DevKey, main, mint_token
from devinfra.topics import REPOSITORY_ROOT
from service_kit.auth import Principal, Role, TokenVerifier, UnsafeJwks
from service_kit.settings import (
    DEFAULT_OIDC_AUDIENCE,
    DEVELOPMENT_JWKS_PATH,
    DEVELOPMENT_OIDC_ISSUER,
    DEVELOPMENT_OIDC_KEY_ID,
)


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "dev-oidc"
    monkeypatch.setenv(DEV_OIDC_DIR_ENV, str(directory))
    return directory


def development_verifier(directory: Path) -> TokenVerifier:
    """A verifier configured as a service's default settings are, with the JWKS in `directory`."""
    return TokenVerifier(
        jwks_url=str(directory / "jwks.json"), issuer=DEVELOPMENT_OIDC_ISSUER, audience=DEFAULT_OIDC_AUDIENCE
    )


def test_the_key_is_generated_once_into_the_configured_directory(key_dir: Path) -> None:
    first = DevKey.ensure()
    pem = first.private_key_path.read_bytes()
    second = DevKey.ensure()

    assert first.directory == key_dir.resolve()
    assert second.private_key_path.read_bytes() == pem
    assert stat.S_IMODE(first.private_key_path.stat().st_mode) == 0o600
    jwks = json.loads(first.jwks_path.read_text())
    assert [(key["kid"], key["alg"], key["use"], key["kty"]) for key in jwks["keys"]] == [
        (DEVELOPMENT_OIDC_KEY_ID, "ES256", "sig", "EC")
    ]
    assert "d" not in jwks["keys"][0]


def test_the_default_directory_is_where_the_services_look(monkeypatch: pytest.MonkeyPatch) -> None:
    from devinfra.devkey import dev_oidc_dir

    monkeypatch.delenv(DEV_OIDC_DIR_ENV, raising=False)

    assert dev_oidc_dir() / "jwks.json" == REPOSITORY_ROOT / DEVELOPMENT_JWKS_PATH


def test_a_lost_jwks_is_written_again_from_the_key(key_dir: Path) -> None:
    key = DevKey.ensure()
    expected = key.jwks_path.read_text()
    key.jwks_path.unlink()

    assert DevKey.ensure().jwks_path.read_text() == expected


async def test_a_minted_token_verifies_against_the_development_jwks(key_dir: Path) -> None:
    token = mint_token(["team_lead", "debt_counsellor"], team="team-noord", subject="dev-lead")

    principal = await development_verifier(key_dir).verify(token)

    assert principal == Principal(
        subject="dev-lead", roles=frozenset({Role.team_lead, Role.debt_counsellor}), team="team-noord"
    )


async def test_a_minted_token_lives_as_long_as_asked(key_dir: Path) -> None:
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    token = DevKey.ensure().mint_token(["admin"], lifetime=timedelta(minutes=5), now=at)

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300
    assert claims["iat"] == int(at.timestamp())
    assert jwt.get_unverified_header(token)["kid"] == DEVELOPMENT_OIDC_KEY_ID
    assert "team" not in claims


async def test_production_refuses_the_development_jwks(key_dir: Path) -> None:
    DevKey.ensure()
    verifier = TokenVerifier(
        jwks_url=str(key_dir / "jwks.json"),
        issuer=DEVELOPMENT_OIDC_ISSUER,
        audience=DEFAULT_OIDC_AUDIENCE,
        refused_key_ids={DEVELOPMENT_OIDC_KEY_ID},
        keys_required_at_start=True,
    )

    with pytest.raises(UnsafeJwks):
        await verifier.open()


async def test_the_cli_prints_a_token_for_comma_separated_and_repeated_roles(
    key_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--role", "team_lead,outreach_worker", "--role", "admin", "--team", "team-zuid"]) == 0

    token = capsys.readouterr().out.strip()
    principal = await development_verifier(key_dir).verify(token)
    assert principal.roles == {Role.team_lead, Role.outreach_worker, Role.admin}
    assert principal.team == "team-zuid"


def test_the_cli_prints_the_jwks_path(key_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jwks"]) == 0

    assert Path(capsys.readouterr().out.strip()) == key_dir.resolve() / "jwks.json"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "--role", "superuser"], "unknown role(s) superuser"),
        (["token", "--role", ""], "give at least one role"),
        (["token"], "give at least one role"),
        (["token", "--role", "debt_counsellor"], "work within a team: add --team"),
        (["token", "--role", "admin", "--minutes", "0"], "--minutes must be positive"),
    ],
)
def test_the_cli_explains_what_is_missing(
    key_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


async def test_make_token_prints_a_token_the_development_jwks_verifies(key_dir: Path) -> None:
    make = shutil.which("make")
    assert make is not None, "make is needed for `make token`"
    # -o install: the environment this test runs in is installed already; -s: stdout is the token alone.
    result = subprocess.run(
        [make, "-s", "-o", "install", "token", "ROLE=team_lead,policy_analyst", "TEAM=team-noord", "MINUTES=5"],
        cwd=REPOSITORY_ROOT,
        env={**os.environ, DEV_OIDC_DIR_ENV: str(key_dir)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    principal = await development_verifier(key_dir).verify(result.stdout.strip())
    assert principal.roles == {Role.team_lead, Role.policy_analyst}
    assert principal.team == "team-noord"
    assert "valid until" in result.stderr
