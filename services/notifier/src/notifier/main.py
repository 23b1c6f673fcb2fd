"""create_app(): the notifier's API (uvicorn --factory notifier.main:create_app); its consumer, dispatcher and
outbox relay run as workers of their own."""

from fastapi import FastAPI

from notifier.config import Settings, get_settings
from notifier.notifications.metrics import install_notification_metrics
from notifier.notifications.router import router as notifications_router
from notifier.sms_reports import router as sms_reports_router
from notifier.templating.router import router as templates_router
from service_kit.app import create_service_app
from service_kit.clock import Clock

DESCRIPTION = """Informs households of their case by e-mail, SMS, letter and caseworker tasks, in Dutch,
Frisian and English, exactly once per moment and channel."""


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    app = create_service_app(
        settings=settings or get_settings(),
        clock=clock,
        title="notifier",
        description=DESCRIPTION,
        routers=[notifications_router, templates_router, sms_reports_router],
    )
    install_notification_metrics(app)
    return app
