"""create_app(): the case-api application (uvicorn --factory case_api.main:create_app)."""

from fastapi import FastAPI

from case_api.cases.router import router as cases_router
from case_api.config import Settings, get_settings
from service_kit.app import create_service_app
from service_kit.clock import Clock

DESCRIPTION = """One case per household, from the first arrears signal to closure.
Every change is published on Kafka (`eviction-prevention.case-events.v1`) through a transactional outbox."""


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or get_settings(),
        clock=clock,
        title="case-api",
        description=DESCRIPTION,
        routers=[cases_router],
    )
