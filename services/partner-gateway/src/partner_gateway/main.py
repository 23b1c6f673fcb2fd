"""create_app(): the partner gateway's API (uvicorn --factory partner_gateway.main:create_app); its
consumer, delivery worker and inbound worker run as workers of their own."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from partner_gateway.config import Settings, get_settings
from partner_gateway.deliveries.metrics import install_delivery_metrics
from partner_gateway.inbound.rate_limit import RateLimiter, TooManyMessages
from partner_gateway.inbound.router import router as inbound_router
from partner_gateway.partners.router import router as partners_router
from service_kit.app import create_service_app
from service_kit.clock import Clock, SystemClock
from service_kit.errors import problem

DESCRIPTION = """Signed exchanges with housing corporations, bailiffs, MEE Noord and utilities: messages in,
webhooks out (Standard Webhooks), with data minimisation per partner kind."""


async def _too_many_messages(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyMessages)
    response = problem(
        exc.status, code=exc.code, detail=exc.detail, instance=request.url.path, retry_after=exc.retry_after
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    clock = clock or SystemClock()
    app = create_service_app(
        settings=settings,
        clock=clock,
        title="partner-gateway",
        description=DESCRIPTION,
        routers=[partners_router, inbound_router],
    )
    # In this process's memory: each API process limits on its own (inbound/rate_limit.py).
    app.state.inbound_limiter = RateLimiter(
        rate=settings.inbound_rate_per_second, burst=settings.inbound_rate_burst, clock=clock
    )
    app.add_exception_handler(TooManyMessages, _too_many_messages)
    install_delivery_metrics(app)
    return app
