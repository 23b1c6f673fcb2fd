"""Settings of the partner gateway, read once from the environment (prefix GATEWAY_)."""

from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "partner-gateway"
    consumer_group: str = "partner-gateway"
    delivery_interval_seconds: float = 0.1
    delivery_timeout_seconds: float = 10.0

    # Inbound messages (POST /v1/partners/{partner_id}/messages).
    inbound_max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="Larger bodies get 413.")
    inbound_rate_per_second: float = Field(default=20.0, gt=0, description="Per partner, per API process.")
    inbound_rate_burst: int = Field(default=100, ge=1, description="Messages a partner may send at once.")
    inbound_interval_seconds: float = Field(default=0.2, gt=0, description="How often the inbound worker looks.")
    inbound_retry_max_seconds: float = Field(default=300.0, gt=0, description="Longest wait between attempts.")
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


@lru_cache
def get_settings() -> Settings:
    return Settings()
