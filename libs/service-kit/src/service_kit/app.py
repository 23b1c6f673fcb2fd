"""The FastAPI application every service builds: offline docs, problem+json errors, health probes, /metrics,
JSON logs and W3C trace context."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.types import ASGIApp

from service_kit.api_rules import API_PREFIX, ApiRulesMiddleware, document_api, publish_openapi
from service_kit.auth import TokenVerifier
from service_kit.clock import Clock, SystemClock
from service_kit.db import database_reachable, make_engine, make_session_factory
from service_kit.errors import install_problem_handlers, problems_router
from service_kit.kafka import KafkaProbe
from service_kit.logs import configure_logging
from service_kit.metrics import ObservabilityMiddleware, ServiceMetrics, metrics_router
from service_kit.query import refuse_bsn_in_query
from service_kit.settings import ServiceSettings

ReadyCheck = Callable[[], Awaitable[bool]]


class Health(BaseModel):
    status: str
    checks: dict[str, bool] = {}


def health_router(ready_checks: dict[str, ReadyCheck]) -> APIRouter:
    # Probes of the platform (docs/operations.md), not operations of the API: outside its OpenAPI document.
    router = APIRouter(prefix="/health", tags=["health"], include_in_schema=False)

    @router.get("/live", response_model=Health)
    async def live() -> Health:
        """The process is up and its event loop answers."""
        return Health(status="ok")

    @router.get("/ready", response_model=Health, responses={503: {"model": Health}})
    async def ready(response: Response) -> Health:
        """Ready only when the database and Kafka are reachable."""
        checks = {name: await check() for name, check in ready_checks.items()}
        ok = all(checks.values())
        if not ok:
            response.status_code = 503
        return Health(status="ok" if ok else "unavailable", checks=checks)

    return router


def _observe_outermost(app: FastAPI) -> None:
    """ObservabilityMiddleware outside every other layer, the error handler and middleware a service adds later
    included: an unexpected error is logged inside the request's span (with its trace id), every answer is timed.
    Inside it, ApiRulesMiddleware puts API-Version and the security headers on every answer, errors included."""
    build_inner = app.build_middleware_stack

    def build() -> ASGIApp:
        inner = ApiRulesMiddleware(build_inner(), version=app.version)
        return ObservabilityMiddleware(inner, metrics=app.state.metrics)

    app.build_middleware_stack = build  # type: ignore[method-assign]  # FastAPIOffline is a function, not a class


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    clock: Clock | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    """The app with its engine, session factory, clock, settings and bearer-token verifier on `app.state`,
    opened and closed by the lifespan; /health/ready checks the database and Kafka; /metrics serves
    `app.state.metrics`, to which a service adds its scrape-time gauges."""
    configure_logging(service=settings.service_name, level=settings.log_level)
    engine = make_engine(settings.effective_database_url)
    kafka = KafkaProbe(settings.kafka_bootstrap_servers)
    token_verifier = TokenVerifier.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await token_verifier.open()
        app.state.settings = settings
        app.state.clock = clock or SystemClock()
        app.state.session_factory = make_session_factory(engine)
        yield
        await engine.dispose()

    async def database_ok() -> bool:
        return await database_reachable(engine)

    # FastAPIOffline serves Swagger UI and ReDoc assets from the package itself: municipal networks are
    # often closed, so /docs must not need a CDN.
    app: FastAPI = FastAPIOffline(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    # /core/no-trailing-slash: `/v1/cases/` is 404, not a redirect to `/v1/cases`.
    app.router.redirect_slashes = False
    app.state.token_verifier = token_verifier
    app.state.problem_type_base = settings.effective_problem_type_base
    app.state.metrics = ServiceMetrics()
    _observe_outermost(app)
    install_problem_handlers(app)
    document_api(app, public_url=settings.public_url, contact=settings.api_contact())
    publish_openapi(app)
    app.include_router(health_router({"database": database_ok, "kafka": kafka.reachable}))
    app.include_router(metrics_router(app.state.metrics))
    app.include_router(problems_router())
    for router in routers:
        # URLs never carry a BSN (R15): a BSN-shaped query value is refused before the endpoint runs.
        app.include_router(router, dependencies=[Depends(refuse_bsn_in_query)])
    return app
