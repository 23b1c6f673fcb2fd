"""Settings of the notifier, read once from the environment (prefix NOTIFIER_)."""

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from service_kit.settings import ServiceSettings


class ChannelMode(StrEnum):
    """local: every channel writes files into outbox_dir (`make run`); live: SMTP and the print folder."""

    local = "local"
    live = "live"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "notifier"
    consumer_group: str = "notifier"
    # `make run` hands every message to file channels that write here: the local outbox of messages.
    outbox_dir: Path = Path(".local/outbox")
    dispatch_interval_seconds: float = 0.1
    channel_mode: ChannelMode = ChannelMode.local

    # Who sends: every message names the municipality and gives this one phone number.
    municipality_name: str = "Gemeente Proefdam"
    municipality_phone: str = "14 0511"

    # live e-mail: an SMTP relay.
    smtp_host: str = "127.0.0.1"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    smtp_starttls: bool = True
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("dev-change-me-smtp-password")
    smtp_sender: str = "Gemeente Proefdam <geldzorgen@proefdam.example>"
    smtp_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0

    # live letters: PDFs dropped for the print-and-mail provider, with their postage class.
    print_dir: Path = Path(".local/print")
    postage_class: str = "standard"
    # Moments whose letters go with priority mail: the eviction date (M4) and what happens after it (M7).
    priority_postage_moments: str = "M4,M7"

    def secret_fields(self) -> dict[str, str]:
        return {"smtp_password": self.smtp_password.get_secret_value()}


@lru_cache
def get_settings() -> Settings:
    return Settings()
