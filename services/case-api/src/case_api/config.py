"""Settings of case-api, read once from the environment (prefix CASE_API_)."""

from functools import lru_cache
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASE_API_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "case-api"
    relay_batch_size: int = 1000
    relay_idle_interval_seconds: float = 0.05


@lru_cache
def get_settings() -> Settings:
    return Settings()
