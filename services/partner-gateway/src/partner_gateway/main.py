"""create_app(): the partner gateway's API (uvicorn --factory partner_gateway.main:create_app); its
consumer and delivery worker run as workers of their own."""

from fastapi import FastAPI

from partner_gateway.config import Settings, get_settings
from partner_gateway.partners.router import router as partners_router
from service_kit.app import create_service_app
from service_kit.clock import Clock

DESCRIPTION = """Signed exchanges with housing corporations, bailiffs, MEE Noord and utilities: messages in,
webhooks out (Standard Webhooks), with data minimisation per partner kind."""


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or get_settings(),
        clock=clock,
        title="partner-gateway",
        description=DESCRIPTION,
        routers=[partners_router],
    )
