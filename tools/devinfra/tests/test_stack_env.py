"""The services' environment under `make run`: the caller's CASE_API_*, NOTIFIER_* and GATEWAY_* variables reach
their service (the README: the environment configures them), the run's own settings still win, and the tests'
stacks stay out of a developer's shell."""

from pathlib import Path

import pytest

from devinfra.stack import Stack


def stack(tmp_path: Path, *, inherit: bool) -> Stack:
    return Stack(
        kafka_bootstrap="127.0.0.1:19092",
        database_urls={},
        ports={"case-api": 18001, "notifier": 18002, "partner-gateway": 18003},
        state_dir=tmp_path,
        oidc_dir=tmp_path / "dev-oidc",
        inherit_service_env=inherit,
    )


def test_make_run_passes_the_services_variables_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASE_API_STATISTICS_MIN_CELL", "1")
    monkeypatch.setenv("NOTIFIER_QUIET_HOURS_START", "22")
    monkeypatch.setenv("GATEWAY_INBOUND_RETRY_MAX_SECONDS", "60")
    run = stack(tmp_path, inherit=True)

    case_api = run.env_for("case-api")
    assert case_api["CASE_API_STATISTICS_MIN_CELL"] == "1"
    assert run.env_for("notifier")["NOTIFIER_QUIET_HOURS_START"] == "22"
    assert run.env_for("partner-gateway")["GATEWAY_INBOUND_RETRY_MAX_SECONDS"] == "60"


def test_the_runs_own_settings_win_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASE_API_DATABASE_URL", "postgresql+asyncpg://elsewhere/db")
    monkeypatch.setenv("CASE_API_KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092")
    monkeypatch.setenv("CASE_API_OIDC_JWKS_URL", "https://idp.example/jwks")
    monkeypatch.setenv("NOTIFIER_OUTBOX_DIR", "/elsewhere")
    monkeypatch.setenv("GATEWAY_CASE_API_URL", "http://elsewhere:8001")
    run = stack(tmp_path, inherit=True)

    case_api = run.env_for("case-api")
    assert case_api["CASE_API_DATABASE_URL"] == ""  # embedded SQLite under the run's data dir
    assert case_api["CASE_API_DATA_DIR"] == str(tmp_path / "data")
    assert case_api["CASE_API_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
    assert case_api["CASE_API_OIDC_JWKS_URL"] == str(run.jwks_path)
    assert run.env_for("notifier")["NOTIFIER_OUTBOX_DIR"] == str(tmp_path / "outbox")
    assert run.env_for("partner-gateway")["GATEWAY_CASE_API_URL"] == "http://127.0.0.1:18001"


def test_a_tests_stack_keeps_the_developers_variables_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASE_API_STATISTICS_MIN_CELL", "1")
    monkeypatch.setenv("EP_SOMETHING_ELSE", "kept")

    env = stack(tmp_path, inherit=False).env_for("case-api")

    assert "CASE_API_STATISTICS_MIN_CELL" not in env
    assert env["EP_SOMETHING_ELSE"] == "kept"
