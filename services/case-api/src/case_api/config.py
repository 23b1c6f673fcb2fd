"""Settings of case-api, read once from the environment (prefix CASE_API_)."""

from functools import lru_cache
from typing import Annotated, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from case_api.deadlines.calendar import LiberationDay
from service_kit.settings import ServiceSettings

PositiveDays = Annotated[int, Field(ge=1)]


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASE_API_", env_file=".env", extra="ignore")

    service_name: ClassVar[str] = "case-api"
    # The consumer of the notifier's events (workers/notification_events.py); dead letters go to <topic>.dlq.<group>.
    consumer_group: str = "case-api"
    relay_batch_size: int = 5000
    relay_idle_interval_seconds: float = 0.05
    # The deadline worker (workers/deadlines.py): how often it looks at every open case, and how many per transaction.
    deadline_worker_interval_seconds: float = Field(default=60.0, gt=0)
    deadline_worker_batch_size: int = Field(default=200, ge=1)

    # R15: the BSN at rest. Production: base64 of 32 random bytes each, two different keys. A value containing
    # "change-me" derives a fixed development key (privacy.bsn.decode_key) and production refuses it.
    bsn_encryption_key: SecretStr = SecretStr("dev-change-me-bsn-encryption-key")
    bsn_index_key: SecretStr = SecretStr("dev-change-me-bsn-index-key")

    # R4-R7: working days are counted in this zone; which holidays count is documented in deadlines/calendar.py.
    working_day_timezone: str = "Europe/Amsterdam"
    working_day_liberation_day: LiberationDay = "every_year"
    working_day_good_friday: bool = False

    # The configurable numbers of spec/domain.md; working days unless the name says otherwise.
    first_contact_working_days: PositiveDays = 5  # R4
    offer_of_help_working_days: PositiveDays = 20  # R4
    threat_first_contact_working_days: PositiveDays = 3  # R5
    assessment_before_eviction_working_days: PositiveDays = 5  # R6
    countdown_days: tuple[PositiveDays, ...] = (14, 7, 2)  # R7, calendar days before the eviction date
    postponement_notice_days: PositiveDays = 3  # R7, calendar days (art. 555 lid 2 Rv)
    child_assessment_escalation_working_days: tuple[PositiveDays, ...] = (5, 2)  # R10
    belongings_storage_weeks: PositiveDays = 13  # R14
    belongings_reminder_weeks_before_end: PositiveDays = 3  # R14
    consecutive_signal_months: PositiveDays = 6  # R2
    retention_closed_case_days: PositiveDays = 730  # R18
    retention_signal_only_days: PositiveDays = 183  # R18
    retention_interval_seconds: Annotated[float, Field(gt=0)] = 86400.0  # R18: how often the retention worker runs
    idempotency_key_hours: PositiveDays = 24  # stored answers to Idempotency-Key writes are kept this long
    # R16: an aggregate cell counting fewer households than this (but more than none) is suppressed.
    statistics_min_cell: Annotated[int, Field(ge=1)] = 5

    def secret_fields(self) -> dict[str, str]:
        return {
            "bsn_encryption_key": self.bsn_encryption_key.get_secret_value(),
            "bsn_index_key": self.bsn_index_key.get_secret_value(),
        }


@lru_cache
def get_settings() -> Settings:
    return Settings()
