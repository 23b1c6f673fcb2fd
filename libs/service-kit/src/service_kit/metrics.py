"""Prometheus metrics: `/metrics` on every API, and a small metrics server in each worker process.

Every process keeps its own registry and is scraped on its own (one pod per API replica and per worker):
an API's registry belongs to its app (`app.state.metrics`), a worker's is prometheus_client's default
registry, served on METRICS_PORT when that is set. Figures that live in a database (outbox backlog,
notifications, deliveries) are gauges computed when scraped, so they are right whichever process answers.
"""

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from fastapi import APIRouter, Request, Response
from opentelemetry.trace import SpanKind
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    ProcessCollector,
    generate_latest,
    make_wsgi_app,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.tracing import current_traceparent, span

log = logging.getLogger(__name__)

ScrapeHook = Callable[[], Awaitable[None]]
UNMATCHED_ROUTE = "unmatched"  # a path no route knows: one label value, never the raw path


class ServiceMetrics:
    """One API app's registry: the HTTP histogram, the process's own figures, and scrape-time gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.http_request_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template (never the raw path), method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._scrape_hooks: list[ScrapeHook] = []

    def on_scrape(self, hook: ScrapeHook) -> None:
        """Run `hook` before every scrape: it sets gauges from a cheap query."""
        self._scrape_hooks.append(hook)

    async def render(self) -> bytes:
        for hook in self._scrape_hooks:
            try:
                await hook()
            except Exception:
                # A database that is down must not hide the rest; the gauge keeps its last value.
                log.warning("a scrape-time metric could not be computed", exc_info=True)
        return generate_latest(self.registry)


def metrics_router(metrics: ServiceMetrics) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus text exposition of this process's metrics."""
        return Response(await metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router


class ObservabilityMiddleware:
    """Outermost layer of every API: a server span from the request's `traceparent` (or a new trace), the
    `traceparent` of that span on the response, and the request's duration in the histogram."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"traceparent"), None)
        method = scope["method"]
        status = 500
        started = time.perf_counter()
        with span(f"{method} request", traceparent=incoming, kind=SpanKind.SERVER):
            outgoing = (current_traceparent() or "").encode("latin-1")

            async def send_with_traceparent(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message = {**message, "headers": [*message.get("headers", []), (b"traceparent", outgoing)]}
                await send(message)

            try:
                await self.app(scope, receive, send_with_traceparent)
            finally:
                route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
                self.metrics.http_request_duration.labels(method, route, str(status)).observe(
                    time.perf_counter() - started
                )


class Heartbeat:
    """When the worker's event loop last ran: `run_worker` beats every few seconds from a task on the loop, so a
    loop that is blocked (a call that never yields, a deadlock in a thread the loop waits on) stops beating and
    the worker's liveness answer turns 503 after `stale_after` seconds, for the orchestrator to restart it."""

    def __init__(self, stale_after: float = 60.0) -> None:
        self.stale_after = stale_after
        self._last = time.monotonic()

    def beat(self) -> None:
        self._last = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self._last

    def alive(self) -> bool:
        return self.age() < self.stale_after


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes and probes are not news
        return None


def worker_endpoints(heartbeat: Heartbeat) -> Callable[..., Iterable[bytes]]:
    """The worker's HTTP answers: `/health/live` from the heartbeat (200, or 503 when the loop stopped beating),
    anything else the default registry's metrics (prometheus_client's WSGI app)."""
    metrics = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/health/live":
            alive = heartbeat.alive()
            body = (
                f'{{"status": "{"ok" if alive else "stalled"}", "loop_seconds_since_beat": {heartbeat.age():.1f}}}'
            ).encode()
            status = "200 OK" if alive else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        result: Iterable[bytes] = metrics(environ, start_response)
        return result

    return app


def start_worker_metrics_server(port: int, host: str, heartbeat: Heartbeat | None = None) -> None:
    """Serve the worker process's default registry on `port` (0: no server) from a daemon thread, and its
    liveness (`/health/live`, from `heartbeat`) beside it."""
    if port:
        server = make_server(
            host,
            port,
            worker_endpoints(heartbeat or Heartbeat()),
            server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
        log.info("metrics at http://%s:%d/metrics, liveness at /health/live", host, port)
