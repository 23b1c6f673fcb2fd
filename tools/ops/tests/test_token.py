"""ep-ops token: a development token, never in production."""

from pathlib import Path

import jwt
import pytest

from ep_ops.cli import main


@pytest.fixture(autouse=True)
def dev_key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EP_DEV_OIDC_DIR", str(tmp_path))
    for name in ("ENVIRONMENT", "CASE_API_ENVIRONMENT", "NOTIFIER_ENVIRONMENT", "GATEWAY_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_token_prints_a_development_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--role", "team_lead", "--team", "team-noord"]) == 0
    printed = capsys.readouterr()
    claims = jwt.decode(printed.out.strip(), options={"verify_signature": False})
    assert claims["roles"] == ["team_lead"]
    assert claims["team"] == "team-noord"
    assert "valid until" in printed.err


@pytest.mark.parametrize("variable", ["ENVIRONMENT", "CASE_API_ENVIRONMENT"])
def test_token_is_refused_in_production(
    variable: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], dev_key_dir: Path
) -> None:
    monkeypatch.setenv(variable, "production")
    assert main(["token", "--role", "admin"]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert "refused in production" in printed.err
    assert not (dev_key_dir / "private-key.pem").exists()


def test_token_needs_a_team_for_team_roles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--role", "outreach_worker"]) == 2
    assert "add --team" in capsys.readouterr().err
