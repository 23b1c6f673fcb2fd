"""Settings of the partner gateway, read once from the environment (prefix GATEWAY_)."""

from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "partner-gateway"
    consumer_group: str = "partner-gateway"
    delivery_interval_seconds: float = 0.1
    delivery_timeout_seconds: float = 10.0
    relay_batch_size: int = Field(default=500, ge=1, description="Outbox rows the relay publishes per batch.")
    relay_idle_interval_seconds: float = Field(default=0.2, gt=0, description="The relay's wait when idle.")

    # Partner registry.
    # Partners' webhook secrets at rest (AES-256-GCM, partners/secrets.py). Production: base64 of 32 random bytes.
    # A value containing "change-me" derives a fixed development key (service_kit.crypto.decode_key) and
    # production refuses it.
    secret_key: SecretStr = SecretStr("dev-change-me-gateway-secret-key")
    secret_rotation_grace_hours: float = Field(
        default=72.0, ge=0, description="How long a rotated secret (inbound and outbound) stays valid."
    )
    partners_seed_file: Path | None = Field(
        default=None,
        description="A YAML file of partners and subscriptions created at API start-up when missing "
        "(deploy/partners.example.yaml); existing partners are never overwritten.",
    )

    # Inbound messages (POST /v1/partners/{partner_id}/messages).
    inbound_max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Larger bodies get 413.")
    inbound_rate_per_second: float = Field(default=20.0, gt=0, description="Per partner, across every API process.")
    inbound_rate_burst: int = Field(default=100, ge=1, description="Messages a partner may send at once.")
    inbound_interval_seconds: float = Field(default=0.2, gt=0, description="How often the inbound worker looks.")
    inbound_retry_max_seconds: float = Field(default=300.0, gt=0, description="Longest wait between attempts.")
    # Signal files (POST /v1/partners/{partner_id}/signal-files): 100,000 rows are about 15 MB.
    signal_file_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, description="Larger files get 413.")
    signal_file_bytes_per_day: int = Field(
        default=200 * 1024 * 1024,
        ge=1024,
        description="Per partner, across every API process: the bytes of signal files a partner may send in a day, "
        "at once or spread (429 with Retry-After beyond); never less than one file of signal_file_max_bytes.",
    )
    # case-api, which the inbound worker forwards messages to.
    case_api_url: str = "http://127.0.0.1:8001"
    case_api_token_file: Path = Field(
        default=Path(".local/partner-gateway/case-api.token"),
        description="A bearer token with the role partner_gateway, read at every call; written by the deployment "
        "(client-credentials) or, locally, by the stack.",
    )
    case_api_timeout_seconds: float = Field(default=10.0, gt=0)
    default_team: str = Field(
        default="team-noord",
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="The area team of cases that partners' arrears signals open, unless the partner names its own.",
    )

    def secret_fields(self) -> dict[str, str]:
        return {"secret_key": self.secret_key.get_secret_value()}

    @field_validator("partners_seed_file", mode="before")
    @classmethod
    def _no_seed_file_when_empty(cls, value: object) -> object:
        # GATEWAY_PARTNERS_SEED_FILE= (empty, as in .env.example) means no seed file, not the current directory.
        return None if value == "" else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
