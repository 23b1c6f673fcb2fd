"""The settings every service shares; each service subclasses with its own env prefix."""

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from eviction_schemas.envelope import CASE_EVENTS_TOPIC, NOTIFICATION_EVENTS_TOPIC, PARTNER_EVENTS_TOPIC

# Values that are fine on a laptop and must never reach production.
DEVELOPMENT_SECRET_MARKER = "change-me"  # noqa: S105 - the marker production refuses, not a secret
DEVELOPMENT_OIN = "00000001234567890000"
# OINs that stand in for the municipality's own in examples and manifests (the production overlay ships one so
# that nobody starts with a real-looking value by accident). Production refuses these, and any OIN whose ten
# identifying digits (after the 7-digit prefix) are one digit repeated or the run 1234567890 (is_placeholder_oin).
PLACEHOLDER_OINS = frozenset({DEVELOPMENT_OIN, "00000009999999999000", "00000000000000000000"})


def is_placeholder_oin(oin: str) -> bool:
    """Whether `oin` is a stand-in rather than an organisation's OIN (the rule production applies at start-up)."""
    identifying = oin[7:17]
    return oin in PLACEHOLDER_OINS or len(set(identifying)) == 1 or identifying == "1234567890"


# The local development identity provider of `make token` (devinfra.devkey): trusted on a laptop only.
DEVELOPMENT_OIDC_ISSUER = "urn:eviction-prevention:dev-issuer"
DEVELOPMENT_OIDC_KEY_ID = "ep-dev-key-1"
DEVELOPMENT_JWKS_PATH = ".local/dev-oidc/jwks.json"
DEFAULT_OIDC_AUDIENCE = "eviction-prevention"

# Settings one deployment shares across its services, so they are also read without the service's prefix
# (OIDC_ISSUER as well as CASE_API_OIDC_ISSUER); the prefixed name wins.
PLATFORM_WIDE_FIELDS = ("oidc_jwks_url", "oidc_issuer", "oidc_audience")


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
    metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Workers only: serve Prometheus metrics on this port (0: off). APIs answer /metrics on their "
        "own port.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="The address a worker's metrics server listens on; 0.0.0.0 in a container.",
    )
    oidc_jwks_url: str = Field(
        default=DEVELOPMENT_JWKS_PATH,
        description="Where the identity provider publishes its signing keys: an https:// URL, or in development "
        "a local file (the key of `make token`). Also read as OIDC_JWKS_URL.",
    )
    oidc_issuer: str = Field(
        default=DEVELOPMENT_OIDC_ISSUER,
        description="The `iss` every bearer token must carry. Also read as OIDC_ISSUER.",
    )
    oidc_audience: str = Field(
        default=DEFAULT_OIDC_AUDIENCE,
        description="The `aud` every bearer token must name. Also read as OIDC_AUDIENCE.",
    )
    public_url: str = Field(
        default="",
        pattern=r"^(https?://[^/?#]+(/[^?#]*[^/?#])?)?$",
        description="Where clients reach this service, e.g. https://case-api.gemeente.example (no trailing "
        "slash); the OpenAPI document's server is this plus /v1. Empty: the server is the relative /v1.",
    )
    problem_type_base: str = Field(
        default="",
        pattern=r"^(https?://[^?#]+/)?$",
        description="Where the pages of the problem types are published (an https URL ending in /); a problem's "
        "`type` is this plus its code. Empty: PUBLIC_URL + /problems/, else the service's own /problems/.",
    )
    api_contact_name: str = Field(default="Eviction-prevention platform team", min_length=1)
    api_contact_email: str = Field(default="api@eviction-prevention.example", pattern=r"^[^@\s]+@[^@\s]+$")
    api_contact_url: str = Field(default="https://eviction-prevention.example/api", pattern=r"^https?://")

    # The service's identity (source URN, SQLite file name); fixed in code, not a setting.
    service_name: ClassVar[str] = "service"

    def sqlite_default_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / (self.service_name.replace('-', '_') + '.sqlite3')}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or self.sqlite_default_url()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        unprefixed = _UnprefixedSource(settings_cls, env_settings, dotenv_settings)
        return init_settings, env_settings, dotenv_settings, unprefixed, file_secret_settings

    @property
    def effective_problem_type_base(self) -> str | None:
        """The configured base of problem type URIs; None: the service's own /problems/ as a request reached it."""
        if self.problem_type_base:
            return self.problem_type_base
        return f"{self.public_url}/problems/" if self.public_url else None

    def api_contact(self) -> dict[str, str]:
        """`info.contact` of the OpenAPI document (API Design Rules /core/doc-openapi-contact)."""
        return {"name": self.api_contact_name, "email": self.api_contact_email, "url": self.api_contact_url}

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
        elif is_placeholder_oin(self.oin):
            problems.append(
                f"oin {self.oin} is a placeholder; set the municipality's OIN (the production overlay's REPLACE line)"
            )
        if self.problem_type_base and not self.problem_type_base.startswith("https://"):
            problems.append("problem_type_base must be an https:// URL in production")
        if not self.database_url or self.database_url.startswith("sqlite"):
            problems.append("database_url must point to PostgreSQL in production")
        if not self.oidc_jwks_url.startswith("https://"):
            problems.append("oidc_jwks_url must be the identity provider's https:// JWKS URL in production")
        if self.oidc_issuer == DEVELOPMENT_OIDC_ISSUER:
            problems.append("oidc_issuer is the development issuer; set the identity provider's issuer")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


class _UnprefixedSource(PydanticBaseSettingsSource):
    """PLATFORM_WIDE_FIELDS under their unprefixed names, from the environment and then the .env file."""

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._sources = sources

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        for source in self._sources:
            # Both env sources keep what they read in `env_vars`, lower-cased unless case_sensitive is set.
            env_vars: Mapping[str, str | None] = getattr(source, "env_vars", {})
            for name in (field_name.upper(), field_name):
                value = env_vars.get(name)
                if value:
                    return value, name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name in PLATFORM_WIDE_FIELDS:
            value, _, _ = self.get_field_value(self.settings_cls.model_fields[field_name], field_name)
            if value is not None:
                values[field_name] = value
        return values
