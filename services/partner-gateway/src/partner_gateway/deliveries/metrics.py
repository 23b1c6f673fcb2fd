"""Partner deliveries on the API's /metrics: how many per status and attempt count, counted when scraped."""

from fastapi import FastAPI
from prometheus_client import Gauge

from partner_gateway.deliveries.service import count_by_status_and_attempts
from service_kit.metrics import ServiceMetrics


def install_delivery_metrics(app: FastAPI) -> None:
    metrics: ServiceMetrics = app.state.metrics
    deliveries = Gauge(
        "partner_deliveries",
        "Webhook deliveries to partners by status and number of attempts made.",
        ["status", "attempts"],
        registry=metrics.registry,
    )

    async def refresh() -> None:
        async with app.state.session_factory() as session:
            counts = await count_by_status_and_attempts(session)
        deliveries.clear()  # a combination no delivery holds any more is gone, not stuck at its last count
        for status, attempts, count in counts:
            deliveries.labels(status.value, str(attempts)).set(count)

    metrics.on_scrape(refresh)
