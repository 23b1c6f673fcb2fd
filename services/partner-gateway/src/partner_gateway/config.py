"""Settings of the partner gateway, read once from the environment (prefix GATEWAY_)."""

from functools import lru_cache
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "partner-gateway"
    consumer_group: str = "partner-gateway"
    delivery_interval_seconds: float = 0.1
    delivery_timeout_seconds: float = 10.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
