"""What every command and query of case-api works with: one transaction, the settings, the clock, the
caller, and the request's trace context. Routers build it; services take it as their first argument."""

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession

from case_api.audit.models import Operation, ProcessingLogEntry
from case_api.config import Settings
from case_api.deadlines.calendar import WorkingDayCalendar, calendar_from_settings
from case_api.privacy.bsn import BsnVault, vault_from_settings
from service_kit.auth import Principal
from service_kit.clock import Clock


@dataclass
class Context:
    session: AsyncSession
    settings: Settings
    clock: Clock
    principal: Principal
    traceparent: str | None = None
    logged: set[tuple[str, str | None, Operation]] = field(default_factory=set)

    @cached_property
    def calendar(self) -> WorkingDayCalendar:
        return calendar_from_settings(self.settings)

    @cached_property
    def vault(self) -> BsnVault:
        return vault_from_settings(self.settings)

    def today(self) -> date:
        return self.calendar.local_date(self.clock.now())

    @property
    def trace_id(self) -> str | None:
        return self.traceparent.split("-")[1] if self.traceparent else None

    def log_processing(self, *, activity: str, case_id: str | None, operation: Operation) -> None:
        """R17: one log entry per activity, case and operation within this transaction."""
        key = (activity, case_id, operation)
        if key in self.logged:
            return
        self.logged.add(key)
        self.session.add(
            ProcessingLogEntry(
                at=self.clock.now(),
                actor=self.principal.subject,
                actor_roles=",".join(sorted(role.value for role in self.principal.roles)),
                activity=activity,
                operation=operation,
                case_id=case_id,
                trace_id=self.trace_id,
            )
        )
