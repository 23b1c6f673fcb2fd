"""Settings of the notifier, read once from the environment (prefix NOTIFIER_)."""

from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "notifier"
    consumer_group: str = "notifier"
    # `make run` hands every message to file channels that write here: the local outbox of messages.
    outbox_dir: Path = Path(".local/outbox")
    dispatch_interval_seconds: float = 0.1


@lru_cache
def get_settings() -> Settings:
    return Settings()
