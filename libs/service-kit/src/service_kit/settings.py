"""The settings every service shares; each service subclasses with its own env prefix."""

from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from eviction_schemas.envelope import CASE_EVENTS_TOPIC, NOTIFICATION_EVENTS_TOPIC, PARTNER_EVENTS_TOPIC

# Values that are fine on a laptop and must never reach production.
DEVELOPMENT_SECRET_MARKER = "change-me"  # noqa: S105 - the marker production refuses, not a secret
DEVELOPMENT_OIN = "00000001234567890000"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class ServiceSettings(BaseSettings):
    """Read once at start; defaults are safe for `make run`; production refuses the unsafe ones."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Environment = Environment.development
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means the embedded SQLite file under data_dir.",
    )
    data_dir: Path = Path(".local/data")
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    oin: str = Field(
        default=DEVELOPMENT_OIN,
        pattern=r"^\d{20}$",
        description="The municipality's OIN, in every source URN.",
    )
    case_events_topic: str = CASE_EVENTS_TOPIC
    notification_events_topic: str = NOTIFICATION_EVENTS_TOPIC
    partner_events_topic: str = PARTNER_EVENTS_TOPIC
    log_level: str = "INFO"

    # The service's identity (source URN, SQLite file name); fixed in code, not a setting.
    service_name: ClassVar[str] = "service"

    def sqlite_default_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / (self.service_name.replace('-', '_') + '.sqlite3')}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or self.sqlite_default_url()

    def secret_fields(self) -> dict[str, str]:
        """Subclasses name their secrets here so production can refuse development values."""
        return {}

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment is not Environment.production:
            return self
        problems = [
            f"{name} still has its development value; set it in the environment"
            for name, value in self.secret_fields().items()
            if not value or DEVELOPMENT_SECRET_MARKER in value
        ]
        if self.oin == DEVELOPMENT_OIN:
            problems.append("oin is the development OIN; set the municipality's OIN")
        if not self.database_url or self.database_url.startswith("sqlite"):
            problems.append("database_url must point to PostgreSQL in production")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self
