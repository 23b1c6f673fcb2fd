"""create_app(): the case-api application (uvicorn --factory case_api.main:create_app)."""

from fastapi import FastAPI

from case_api.audit.router import router as processing_log_router
from case_api.belongings.router import router as belongings_router
from case_api.cases.list_router import router as case_list_router
from case_api.cases.router import router as cases_router
from case_api.children.router import router as children_router
from case_api.config import Settings, get_settings
from case_api.db import OutboxRecord
from case_api.households.router import router as households_router
from case_api.housing.router import router as housing_router
from case_api.idempotency.service import install_idempotency
from case_api.legal.router import router as legal_router
from case_api.notification_contact.router import router as notification_contact_router
from case_api.oco.router import router as oco_router
from case_api.partner_feedback.router import router as partner_feedback_router
from case_api.partner_requests.router import router as partner_requests_router
from case_api.signals.router import router as signals_router
from case_api.statistics.router import router as statistics_router
from case_api.support.router import router as support_router
from case_api.tasks.router import router as tasks_router
from case_api.timeline.router import router as timeline_router
from service_kit.app import create_service_app
from service_kit.clock import Clock
from service_kit.outbox import install_outbox_metrics

DESCRIPTION = """One case per household, from the first arrears signal to closure.
Every change is published on Kafka (`eviction-prevention.case-events.v1`) through a transactional outbox."""


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    app = create_service_app(
        settings=settings or get_settings(),
        clock=clock,
        title="case-api",
        description=DESCRIPTION,
        routers=[
            cases_router,
            signals_router,
            support_router,
            oco_router,
            children_router,
            households_router,
            housing_router,
            belongings_router,
            legal_router,
            partner_requests_router,
            tasks_router,
            case_list_router,
            timeline_router,
            statistics_router,
            partner_feedback_router,
            processing_log_router,
            notification_contact_router,
        ],
    )
    install_outbox_metrics(app, OutboxRecord)
    install_idempotency(app)  # after every router: wraps each write under /v1 (idempotency/service.py)
    return app
