"""The notifications on the API's /metrics: how many per channel and status, counted when scraped."""

from fastapi import FastAPI
from prometheus_client import Gauge

from notifier.notifications.repository import NotificationRepository
from service_kit.metrics import ServiceMetrics


def install_notification_metrics(app: FastAPI) -> None:
    metrics: ServiceMetrics = app.state.metrics
    notifications = Gauge(
        "notifications", "Notifications by channel and status.", ["channel", "status"], registry=metrics.registry
    )

    async def refresh() -> None:
        async with app.state.session_factory() as session:
            counts = await NotificationRepository(session).count_by_channel_and_status()
        notifications.clear()  # a status no notification holds any more is gone, not stuck at its last count
        for channel, status, count in counts:
            notifications.labels(channel, status.value).set(count)

    metrics.on_scrape(refresh)
