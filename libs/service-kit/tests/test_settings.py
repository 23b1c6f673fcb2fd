"""Settings are safe on a laptop and refuse, at start, what must never reach production."""

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from service_kit.settings import DEVELOPMENT_OIN, Environment, ServiceSettings

POSTGRES_URL = "postgresql+asyncpg://case_api:s3cr3t@db.gemeente.invalid:5432/case_api"
MUNICIPAL_OIN = "00000001002220647000"


class PartnerSettings(ServiceSettings):
    """A service with a secret of its own, named through `secret_fields`."""

    model_config = SettingsConfigDict(env_prefix="EP_SETTINGS_TEST_", env_file=None, extra="ignore")

    service_name: ClassVar[str] = "settings-test"
    webhook_secret: str = "whsec_change-me"

    def secret_fields(self) -> dict[str, str]:
        return {"webhook_secret": self.webhook_secret}


def production(**overrides: str) -> PartnerSettings:
    values = {
        "environment": "production",
        "database_url": POSTGRES_URL,
        "oin": MUNICIPAL_OIN,
        "webhook_secret": "whsec_c2VjcmV0IGZyb20gdGhlIHZhdWx0",
        "oidc_jwks_url": "https://login.gemeente.invalid/.well-known/jwks.json",
        "oidc_issuer": "https://login.gemeente.invalid",
        **overrides,
    }
    return PartnerSettings(**values)


def test_production_accepts_real_values() -> None:
    settings = production()

    assert settings.environment is Environment.production
    assert settings.effective_database_url == POSTGRES_URL


@pytest.mark.parametrize("placeholder", ["00000009999999999000", "00000000000000000000", "00000003333333333000"])
def test_production_refuses_a_placeholder_oin(placeholder: str) -> None:
    with pytest.raises(ValidationError, match=f"oin {placeholder} is a placeholder"):
        production(oin=placeholder)
    assert production(oin=MUNICIPAL_OIN).oin == MUNICIPAL_OIN


def test_production_refuses_the_development_oin() -> None:
    with pytest.raises(ValidationError, match="oin is the development OIN"):
        production(oin=DEVELOPMENT_OIN)


@pytest.mark.parametrize("database_url", ["", "sqlite+aiosqlite:///.local/data/case_api.sqlite3"])
def test_production_refuses_an_empty_or_sqlite_database_url(database_url: str) -> None:
    with pytest.raises(ValidationError, match="database_url must point to PostgreSQL"):
        production(database_url=database_url)


@pytest.mark.parametrize("secret", ["whsec_change-me", "change-me", ""])
def test_production_refuses_a_secret_that_is_empty_or_still_says_change_me(secret: str) -> None:
    with pytest.raises(ValidationError, match="webhook_secret still has its development value"):
        production(webhook_secret=secret)


def test_production_names_every_problem_at_once() -> None:
    with pytest.raises(ValidationError) as refused:
        production(oin=DEVELOPMENT_OIN, database_url="", webhook_secret="change-me")

    message = str(refused.value)
    assert "oin" in message
    assert "database_url" in message
    assert "webhook_secret" in message


def test_production_is_read_from_the_environment_and_refused_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EP_SETTINGS_TEST_ENVIRONMENT", "production")

    with pytest.raises(ValidationError, match="refusing to start in production"):
        PartnerSettings()


def test_development_accepts_the_defaults_and_uses_an_sqlite_file() -> None:
    settings = PartnerSettings()

    assert settings.environment is Environment.development
    assert settings.oin == DEVELOPMENT_OIN
    assert settings.webhook_secret == "whsec_change-me"
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{Path('.local/data') / 'settings_test.sqlite3'}"


def test_test_environment_accepts_the_defaults() -> None:
    assert PartnerSettings(environment=Environment.test).oin == DEVELOPMENT_OIN
