"""`ep-ops retention run`: case-api's retention (R18) once, now, with the real clock; the same code the daily
retention worker runs."""

from case_api.config import Settings
from case_api.workers.retention import run_once
from ep_ops.output import Report
from service_kit.clock import Clock, SystemClock
from service_kit.db import make_engine, make_session_factory


async def run_retention(settings: Settings, *, clock: Clock | None = None) -> Report:
    engine = make_engine(settings.effective_database_url)
    try:
        erased = await run_once(make_session_factory(engine), settings, clock or SystemClock())
    finally:
        await engine.dispose()
    row = {"erased_cases": erased, "ran_at": (clock or SystemClock()).now()}
    return Report(
        columns=list(row),
        rows=[row],
        summary=f"retention erased the personal data of {erased} case(s)",
        totals={"erased_cases": erased},
    )
