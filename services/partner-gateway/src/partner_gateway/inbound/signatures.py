"""Standard Webhooks verification of a partner's message, with the timestamp checked against the injected clock.

`standardwebhooks.Webhook.verify` checks the timestamp against the wall clock, which tests cannot move and which
would make the 5-minute rule depend on when a test runs. So the timestamp is checked here against the clock,
and the signature with the library's own HMAC (`Webhook.sign`, which computes `v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`), compared in constant time against every `v1` signature of the header, for every secret
that is valid now (the current one and, during a rotation, the previous one).

A read (GET) has no body; what is signed in its place is the request line `"GET /v1/partners/.../messages/..."`
(`read_content`), so a captured signature of one read cannot read another message or file of the partner.
"""

import base64
import binascii
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

from standardwebhooks.webhooks import Webhook

from service_kit.errors import DomainError

TOLERANCE = timedelta(minutes=5)  # contract.md: older or newer than 5 minutes is refused
MAX_WEBHOOK_ID = 200


class BadSignature(DomainError):
    """401: the message is not signed by this partner, or not now. The detail never repeats a secret."""

    status = HTTPStatus.UNAUTHORIZED
    code = "bad-signature"
    title = "The message is not signed by you, or not now"
    fix = (
        "Sign the exact bytes you send with your current secret (Standard Webhooks: webhook-id, webhook-timestamp, "
        "webhook-signature); the timestamp must be within 5 minutes of the gateway's clock."
    )


@dataclass(frozen=True)
class SignedHeaders:
    webhook_id: str
    timestamp: datetime
    signatures: tuple[bytes, ...]


def read_content(method: str, path: str) -> str:
    """What a read is signed over instead of a body: its method and path (docs/partners.md)."""
    return f"{method.upper()} {path}"


def read_headers(headers: Mapping[str, str], *, now: datetime) -> SignedHeaders:
    """The three Standard Webhooks headers, with the timestamp within 5 minutes of `now`."""
    webhook_id = headers.get("webhook-id", "")
    raw_timestamp = headers.get("webhook-timestamp", "")
    raw_signature = headers.get("webhook-signature", "")
    for name, value in (
        ("webhook-id", webhook_id),
        ("webhook-timestamp", raw_timestamp),
        ("webhook-signature", raw_signature),
    ):
        if not value:
            raise BadSignature(f"the {name} header is missing (Standard Webhooks)", field=name)
    if len(webhook_id) > MAX_WEBHOOK_ID:
        raise BadSignature(f"the webhook-id header is longer than {MAX_WEBHOOK_ID} characters", field="webhook-id")
    if not raw_timestamp.isdigit():
        raise BadSignature("the webhook-timestamp header must be whole seconds since 1970", field="webhook-timestamp")
    try:
        timestamp = datetime.fromtimestamp(int(raw_timestamp), UTC)
    except (OverflowError, OSError, ValueError):
        raise BadSignature("the webhook-timestamp header is out of range", field="webhook-timestamp") from None
    if timestamp < now - TOLERANCE:
        raise BadSignature("the webhook-timestamp is more than 5 minutes old", field="webhook-timestamp")
    if timestamp > now + TOLERANCE:
        raise BadSignature("the webhook-timestamp is more than 5 minutes ahead", field="webhook-timestamp")
    signatures = []
    for versioned in raw_signature.split(" "):
        version, _, encoded = versioned.partition(",")
        if version != "v1" or not encoded:
            continue  # other schemes (v1a, ...) are allowed beside v1 and ignored
        try:
            signatures.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not signatures:
        raise BadSignature("the webhook-signature header holds no v1 signature", field="webhook-signature")
    return SignedHeaders(webhook_id, timestamp, tuple(signatures))


def verify(signed: SignedHeaders, body: str, secrets: Sequence[str]) -> None:
    """Passes when one of the signatures is the HMAC of the body under one of the secrets."""
    for secret in secrets:
        expected = Webhook(secret).sign(signed.webhook_id, signed.timestamp, body).split(",", 1)[1]
        expected_bytes = base64.b64decode(expected)
        if any(hmac.compare_digest(expected_bytes, candidate) for candidate in signed.signatures):
            return
    raise BadSignature("no signature matches this partner's secret", field="webhook-signature")
