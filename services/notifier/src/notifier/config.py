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

    # case-api: the household's contact details are read there at send time; caseworker tasks are created there.
    case_api_url: str = "http://127.0.0.1:8001"
    case_api_token_file: Path = Field(
        default=Path(".local/notifier/case-api.token"),
        description="A bearer token with the role notifier, read at every call; written by the deployment "
        "(client-credentials) or, locally, by the stack.",
    )
    case_api_timeout_seconds: float = Field(default=10.0, gt=0)

    # live SMS: CM.com's Business Messaging API (docs/adr/0010-sms-provider.md).
    sms_api_url: str = "https://gw.messaging.cm.com/v1.0/message"
    sms_product_token: SecretStr = SecretStr("dev-change-me-sms-product-token")
    sms_sender: str = Field(default="Proefdam", max_length=11, description="The alphanumeric sender (max. 11).")
    sms_timeout_seconds: float = Field(default=10.0, gt=0)
    # The delivery-report callback (POST /v1/sms/delivery-reports) takes HTTP Basic with these credentials.
    sms_report_username: str = "cm-reports"
    sms_report_password: SecretStr = SecretStr("dev-change-me-sms-report-password")

    # When messages go out: no SMS in quiet hours (Europe/Amsterdam); they wait for the end of the quiet hours.
    timezone: str = "Europe/Amsterdam"
    quiet_hours_start: Annotated[int, Field(ge=0, le=23)] = 21
    quiet_hours_end: Annotated[int, Field(ge=0, le=23)] = 8
    # Time-based moments are sent at this local hour on their day (M5 countdown, M8 belongings, M2 no contact).
    scheduled_send_hour: Annotated[int, Field(ge=0, le=23)] = 10
    # Temporary failures are retried this many times (backoff doubling from retry_base_seconds), then permanent.
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 6
    retry_base_seconds: Annotated[float, Field(gt=0)] = 60.0
    dispatch_batch_size: Annotated[int, Field(ge=1, le=5000)] = 200
    # A notification left `sending` by a stopped dispatcher is handed over again after this lease; an SMS only
    # after the report window passed without a delivery report (docs/adr/0009). It must be longer than the bound
    # of one hand-over (case-api timeout + 5 channel timeouts, 160 s by default), or a second dispatcher could
    # take over an e-mail the first is still handing over (the dispatcher warns at start-up when it is not).
    sending_lease_seconds: Annotated[float, Field(gt=0)] = 300.0
    sms_report_window_seconds: Annotated[float, Field(gt=0)] = 900.0
    relay_batch_size: int = Field(default=500, ge=1, description="Outbox rows the relay publishes per batch.")
    relay_idle_interval_seconds: float = Field(default=0.2, gt=0, description="The relay's wait when idle.")

    def secret_fields(self) -> dict[str, str]:
        return {
            "smtp_password": self.smtp_password.get_secret_value(),
            "sms_product_token": self.sms_product_token.get_secret_value(),
            "sms_report_password": self.sms_report_password.get_secret_value(),
        }


@lru_cache
def get_settings() -> Settings:
    return Settings()
