"""create_app(): the partner gateway's API (uvicorn --factory partner_gateway.main:create_app); its
consumer, delivery worker and inbound worker run as workers of their own."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from partner_gateway.config import Settings, get_settings
from partner_gateway.deliveries.metrics import install_delivery_metrics
from partner_gateway.deliveries.router import router as deliveries_router
from partner_gateway.inbound.rate_limit import RateLimiter, TooManyMessages
from partner_gateway.inbound.router import router as inbound_router
from partner_gateway.partners.router import router as partners_router
from partner_gateway.partners.secrets import use_settings as use_secret_key
from partner_gateway.partners.seed import apply_seed, load_seed
from partner_gateway.signal_files.router import router as signal_files_router
from service_kit.app import create_service_app
from service_kit.clock import Clock, SystemClock
from service_kit.errors import problem

DESCRIPTION = """Signed exchanges with housing corporations, bailiffs, MEE Noord and utilities: messages in,
webhooks out (Standard Webhooks), with data minimisation per partner kind."""


async def _too_many_messages(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyMessages)
    response = problem(
        request, exc.status, code=exc.code, title=exc.title, detail=exc.detail, retry_after=exc.retry_after
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    clock = clock or SystemClock()
    use_secret_key(settings)  # partners' secrets at rest open with this app's GATEWAY_SECRET_KEY
    app = create_service_app(
        settings=settings,
        clock=clock,
        title="partner-gateway",
        description=DESCRIPTION,
        routers=[partners_router, deliveries_router, inbound_router, signal_files_router],
    )

    # In the database: every API process on it takes from the same buckets (inbound/rate_limit.py).
    def sessions() -> async_sessionmaker[AsyncSession]:
        factory: async_sessionmaker[AsyncSession] = app.state.session_factory
        return factory

    app.state.inbound_limiter = RateLimiter(
        name="inbound",
        rate=settings.inbound_rate_per_second,
        burst=settings.inbound_rate_burst,
        clock=clock,
        sessions=sessions,
    )
    # Signal files: a budget of bytes per partner and day (a file costs its size), shared the same way.
    daily = max(settings.signal_file_bytes_per_day, settings.signal_file_max_bytes)
    app.state.signal_file_limiter = RateLimiter(
        name="signal-files",
        rate=daily / 86_400,
        burst=daily,
        clock=clock,
        sessions=sessions,
        unit="bytes of signal files",
    )
    app.add_exception_handler(TooManyMessages, _too_many_messages)
    install_delivery_metrics(app)
    if settings.partners_seed_file is not None:
        _seed_at_start(app, settings)
    return app


def _seed_at_start(app: FastAPI, settings: Settings) -> None:
    """Apply GATEWAY_PARTNERS_SEED_FILE once the lifespan has opened the database; a bad file stops the start."""
    assert settings.partners_seed_file is not None
    seed = load_seed(settings.partners_seed_file)  # read now: a missing variable fails before anything runs
    opened = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with opened(app):
            async with app.state.session_factory() as session, session.begin():
                await apply_seed(session, seed=seed, clock=app.state.clock)
            yield

    app.router.lifespan_context = lifespan
