"""What the end-to-end tests share: the whole platform on the session's broker and PostgreSQL, waiting for
an effect, and a partner's signed message."""

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from devinfra.ports import free_port
from devinfra.stack import Stack
from devinfra.topics import create_declared_topics


@asynccontextmanager
async def running_stack(
    *,
    kafka_bootstrap: str,
    postgres_url_factory: Callable[[str], str],
    state_dir: Path,
    oidc_dir: Path,
    metrics_ports: dict[str, int] | None = None,
    extra_env: dict[str, str] | None = None,
    ports: dict[str, int] | None = None,
) -> AsyncIterator[Stack]:
    """The three services and their workers on fresh PostgreSQL databases, migrated, started and ready."""
    await create_declared_topics(kafka_bootstrap)
    stack = Stack(
        kafka_bootstrap=kafka_bootstrap,
        database_urls={
            "case-api": postgres_url_factory("case_api"),
            "notifier": postgres_url_factory("notifier"),
            "partner-gateway": postgres_url_factory("partner_gateway"),
        },
        ports={"case-api": free_port(), "notifier": free_port(), "partner-gateway": free_port(), **(ports or {})},
        state_dir=state_dir,
        oidc_dir=oidc_dir,
        metrics_ports=metrics_ports or {},
        extra_env=extra_env or {},
    )
    stack.migrate()
    stack.start()
    try:
        stack.wait_ready(timeout=60)
        yield stack
    finally:
        stack.stop()


def wait_for(condition: Callable[[], Any], *, timeout: float = 30, what: str) -> Any:
    """The first truthy answer of `condition`, polled every 0.1 s; AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def post_partner_message(gateway: httpx.Client, partner_id: str, secret: str, message: dict[str, Any]) -> str:
    """Send `message` as partner `partner_id` would: signed with its inbound secret (Standard Webhooks).
    Returns the gateway's message id (202)."""
    body = json.dumps(message)
    webhook_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    answer = gateway.post(
        f"/v1/partners/{partner_id}/messages",
        content=body,
        headers={
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
        },
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["message_id"])


def read_partner_message(gateway: httpx.Client, partner_id: str, secret: str, message_id: str) -> dict[str, Any]:
    """The partner's own read of a message's outcome: a GET signed over its method and path (docs/partners.md)."""
    webhook_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    path = f"/v1/partners/{partner_id}/messages/{message_id}"
    answer = gateway.get(
        path,
        headers={
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, now, f"GET {path}"),
        },
    )
    assert answer.status_code == 200, answer.text
    read: dict[str, Any] = answer.json()
    return read


def settled_partner_message(
    gateway: httpx.Client, partner_id: str, secret: str, message: dict[str, Any], *, timeout: float = 60
) -> dict[str, Any]:
    """Send `message` signed as the partner and wait (with a deadline) until the gateway's inbound worker settled
    it: processed, failed or rejected. Returns the partner's read of it."""
    message_id = post_partner_message(gateway, partner_id, secret, message)
    settled: dict[str, Any] = wait_for(
        lambda: (
            (read := read_partner_message(gateway, partner_id, secret, message_id))["status"] != "received" and read
        ),
        timeout=timeout,
        what=f"{message['type']} of {partner_id} settled",
    )
    return settled
