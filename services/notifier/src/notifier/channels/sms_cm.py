"""SMS through CM.com's Business Messaging API, and CM's status reports read back (docs/adr/0010-sms-provider.md).

Sending: `POST {sms_api_url}` with `{"messages": {"authentication": {"producttoken": ...}, "msg": [...]}}`; CM
answers `{"details", "errorCode", "messages": [{"to", "status", "reference", "parts", "messageDetails",
"messageErrorCode"}]}`. Status reports: CM posts `{"messages": {"msg": {"received", "to", "reference",
"status": {"code", "errorCode", "errorDescription"}, "operator"}}}` to the URL configured in its Channels app.
"""

import hashlib
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from notifier.channels.base import HandOver, OutgoingMessage
from notifier.config import Settings

log = logging.getLogger(__name__)

PRODUCT_TOKEN_HEADER = "X-CM-PRODUCTTOKEN"  # noqa: S105 - the header's name, not a token
# A message longer than one SMS is split by CM into parts of 153 characters (67 in Unicode), up to this many.
MAX_MESSAGE_PARTS = 8

# Reasons of a HandOver or a report that is not a success; short codes, stored with the notification.
INVALID_NUMBER = "invalid_number"
PROVIDER_UNAVAILABLE = "provider_unavailable"
PROVIDER_AUTH = "provider_auth"

# A Dutch mobile number as people write it, after removing spaces, dashes, dots and brackets: 06..., +316...,
# 00316..., and the "+31 (0)6" form. Anything else is not sent: the adapter only serves Dutch households.
_SEPARATORS = re.compile(r"[\s\-./()]")
_DUTCH_MOBILE = re.compile(r"^(?:\+31|0031|\+310|00310|0)6(?P<subscriber>\d{8})$")
# CM takes a reference of 1 to 32 alphanumeric characters and returns it in every status report.
_CM_REFERENCE = re.compile(r"^[A-Za-z0-9]{1,32}$")

# JSON POST error codes of the Business Messaging API (`errorCode` of the answer, `messageErrorCode` per message).
CM_OK = 0
CM_AUTHENTICATION_FAILED = 101
CM_BALANCE_INSUFFICIENT = 102
CM_PRODUCT_TOKEN_INCORRECT = 103
CM_NOT_ALL_SENT = 201
CM_REQUEST_MALFORMED = 202
CM_MSG_ARRAY_INCORRECT = 203
CM_FROM_INVALID = 301
CM_TO_INVALID = 302
CM_MSISDN_INVALID = 303
CM_BODY_INVALID = 304
CM_FIELD_INVALID = 305
CM_SPAM_FILTERED = 401
CM_BLACKLISTED = 402
CM_REJECTED = 403
CM_INTERNAL_ERROR = 500
CM_UNKNOWN_ERROR = 999

# errorCode of a whole request or messageErrorCode of one message -> (reason, permanent). Our own account or
# configuration (token, balance, sender) is temporary: the household's number is fine and the message goes out
# once we fix it; what is wrong with the number or the message itself is permanent, so the next channel is tried.
SEND_ERRORS: Mapping[int, tuple[str, bool]] = {
    CM_AUTHENTICATION_FAILED: (PROVIDER_AUTH, False),
    CM_PRODUCT_TOKEN_INCORRECT: (PROVIDER_AUTH, False),
    CM_BALANCE_INSUFFICIENT: ("provider_balance", False),
    CM_FROM_INVALID: ("provider_sender", False),
    CM_INTERNAL_ERROR: (PROVIDER_UNAVAILABLE, False),
    CM_UNKNOWN_ERROR: (PROVIDER_UNAVAILABLE, False),
    CM_REQUEST_MALFORMED: ("provider_request_rejected", True),
    CM_MSG_ARRAY_INCORRECT: ("provider_request_rejected", True),
    CM_TO_INVALID: (INVALID_NUMBER, True),
    CM_MSISDN_INVALID: (INVALID_NUMBER, True),
    CM_BODY_INVALID: ("message_invalid", True),
    CM_FIELD_INVALID: ("message_invalid", True),
    CM_SPAM_FILTERED: ("message_rejected", True),
    CM_BLACKLISTED: ("number_blocked", True),
    CM_REJECTED: ("message_rejected", True),
}

# Status codes of a status report.
REPORT_ACCEPTED = 0  # accepted by CM or the operator: on its way, not final
REPORT_REJECTED = 1  # rejected by CM or the operator: it will not be sent
REPORT_DELIVERED = 2
REPORT_FAILED = 3  # sent, but the operator could not deliver it
FINAL_REPORT_STATUSES = frozenset({REPORT_REJECTED, REPORT_DELIVERED, REPORT_FAILED})

# The standard error codes of a status report that name the cause -> (reason, permanent). A failure without a
# known code is temporary after "failed" (the next attempt may reach the phone) and permanent after "rejected".
REPORT_ERRORS: Mapping[int, tuple[str, bool]] = {
    5: ("undelivered", False),
    7: ("subscriber_credit", False),
    8: ("expired", False),
    20: ("undeliverable_message", True),
    21: ("subscriber_credit", False),
    22: ("subscriber_credit", False),
    23: (INVALID_NUMBER, True),
    24: ("subscriber_absent", False),
    25: ("network_error", False),
    26: ("handset_error", False),
    27: ("handset_incompatible", True),
    28: ("spam_suspected", True),
    29: ("content_not_permitted", True),
    30: ("subscriber_spend_limit", False),
    31: ("subscriber_billing", False),
}


def cm_number(raw: str | None) -> str | None:
    """A Dutch mobile number in CM's format (00316 and eight digits), or None when it is not one."""
    if not raw:
        return None
    compact = _SEPARATORS.sub("", raw.strip())
    match = _DUTCH_MOBILE.match(compact)
    return f"00316{match['subscriber']}" if match else None


def cm_reference(notification_id: str) -> str:
    """The notification's id as CM's reference (1-32 alphanumerics): a UUID without its dashes; any other id is
    hashed. The same notification always gets the same reference, so a report of a retried send still maps."""
    compact = notification_id.replace("-", "")
    if _CM_REFERENCE.match(compact):
        return compact
    return hashlib.sha256(notification_id.encode()).hexdigest()[:32]


def notification_id_of(reference: str) -> str | None:
    """The notification id a CM reference was made from, when it was a UUID (the notifier's ids are)."""
    try:
        return str(uuid.UUID(hex=reference)) if len(reference) == 32 else None
    except ValueError:
        return None


def _as_int(value: object) -> int | None:
    """CM writes its codes as numbers or as strings of digits; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


class CmSmsChannel:
    """The SMS channel: one message to one Dutch mobile number per call, through CM's JSON gateway."""

    name = "sms"
    # CM reports every message it accepted: a notification left `sending` by a stopped dispatcher is settled by
    # that report, and handed over again only when none came within the report window (docs/adr/0009).
    awaits_report = True

    def __init__(
        self,
        *,
        api_url: str,
        product_token: str,
        sender: str,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._api_url = api_url
        self._product_token = product_token
        self._sender = sender
        self._timeout = timeout
        # A client given by the owner is shared and closed by the owner; without one each send opens its own.
        self._client = client

    @property
    def timeout_seconds(self) -> float:
        """How long the channel waits for CM's gateway (each of connect, write, read)."""
        return self._timeout

    @classmethod
    def from_settings(cls, settings: Settings, *, client: httpx.AsyncClient | None = None) -> "CmSmsChannel":
        return cls(
            api_url=settings.sms_api_url,
            product_token=settings.sms_product_token.get_secret_value(),
            sender=settings.sms_sender,
            timeout=settings.sms_timeout_seconds,
            client=client,
        )

    def request_body(self, message: OutgoingMessage, *, number: str) -> dict[str, Any]:
        """The JSON body CM's gateway takes for this message (the token also travels in the header)."""
        return {
            "messages": {
                "authentication": {"producttoken": self._product_token},
                "msg": [
                    {
                        "from": self._sender,
                        "to": [{"number": number}],
                        # "auto": CM picks GSM-7 or Unicode (Frisian has characters GSM-7 lacks).
                        "body": {"type": "auto", "content": message.body.strip()},
                        "reference": cm_reference(message.notification_id),
                        "minimumNumberOfMessageParts": 1,
                        "maximumNumberOfMessageParts": MAX_MESSAGE_PARTS,
                    }
                ],
            }
        }

    async def send(self, message: OutgoingMessage) -> HandOver:
        number = cm_number(message.recipient)
        if number is None:
            return HandOver(accepted=False, permanent=True, reason=INVALID_NUMBER)
        reference = cm_reference(message.notification_id)
        body = self.request_body(message, number=number)
        headers = {PRODUCT_TOKEN_HEADER: self._product_token, "Accept": "application/json"}
        try:
            if self._client is not None:
                response = await self._client.post(self._api_url, json=body, headers=headers, timeout=self._timeout)
            else:
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    response = await client.post(self._api_url, json=body, headers=headers)
        except httpx.HTTPError as error:
            # Timeouts, refused connections, broken TLS: CM may have taken it or not; try again later.
            log.warning("CM gateway not reached for notification %s: %s", message.notification_id, type(error).__name__)
            return HandOver(accepted=False, permanent=False, reason=PROVIDER_UNAVAILABLE)
        return self._hand_over(response, reference=reference, notification_id=message.notification_id)

    def _hand_over(self, response: httpx.Response, *, reference: str, notification_id: str) -> HandOver:
        status = response.status_code
        if status == 429 or status >= 500:
            return HandOver(accepted=False, permanent=False, reason=PROVIDER_UNAVAILABLE)
        if status in (401, 403):
            return HandOver(accepted=False, permanent=False, reason=PROVIDER_AUTH)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or _as_int(answer.get("errorCode")) is None:
            # Not CM's JSON (a proxy's error page, say): nothing says the number or message is wrong.
            log.warning("CM gateway answered %s without its JSON for notification %s", status, notification_id)
            return HandOver(accepted=False, permanent=False, reason=PROVIDER_UNAVAILABLE)
        error_code = _as_int(answer.get("errorCode"))
        details = answer.get("messages")
        first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
        if error_code == CM_OK and 200 <= status < 300:
            return HandOver(accepted=True, provider_reference=reference)
        if error_code == CM_NOT_ALL_SENT and first:
            # One message to one number: its own status and code say what happened to it.
            if str(first.get("status", "")).lower() == "accepted":
                return HandOver(accepted=True, provider_reference=reference)
            error_code = _as_int(first.get("messageErrorCode"))
        reason, permanent = SEND_ERRORS.get(error_code or -1, ("message_rejected", True))
        log.info(
            "CM refused notification %s: errorCode %s (%s), %s",
            notification_id,
            error_code,
            answer.get("details"),
            "permanent" if permanent else "temporary",
        )
        return HandOver(accepted=False, permanent=permanent, reason=reason)


@dataclass(frozen=True)
class DeliveryReport:
    """One status report of CM, in our terms: delivered, or a failure that is permanent or not."""

    reference: str
    delivered: bool
    permanent: bool
    reason_code: str | None
    provider_status: int
    provider_error: int | None = None

    @property
    def final(self) -> bool:
        """Rejected, delivered or failed; "accepted" only says the message is on its way."""
        return self.provider_status in FINAL_REPORT_STATUSES


class MalformedDeliveryReport(ValueError):
    """A status report that is not CM's JSON format; `field` names the part that is missing or wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _report_of(msg: object, path: str) -> DeliveryReport:
    if not isinstance(msg, dict):
        raise MalformedDeliveryReport(path, "must be an object with reference and status")
    reference = msg.get("reference")
    if not isinstance(reference, str) or not reference.strip():
        raise MalformedDeliveryReport(f"{path}.reference", "must be the reference the message was sent with")
    status = msg.get("status")
    if not isinstance(status, dict):
        raise MalformedDeliveryReport(f"{path}.status", "must be an object with code, errorCode, errorDescription")
    code = _as_int(status.get("code"))
    if code is None:
        raise MalformedDeliveryReport(f"{path}.status.code", "must be a status code (0, 1, 2 or 3)")
    raw_error = status.get("errorCode")
    error = _as_int(raw_error)
    if raw_error not in (None, "") and error is None:
        raise MalformedDeliveryReport(f"{path}.status.errorCode", "must be a number when present")
    reference = reference.strip()
    if code == REPORT_DELIVERED:
        return DeliveryReport(reference, delivered=True, permanent=False, reason_code=None, provider_status=code)
    if code == REPORT_REJECTED:
        reason, permanent = REPORT_ERRORS.get(error or -1, ("rejected", True))
        return DeliveryReport(reference, False, permanent, reason, code, error)
    if code == REPORT_FAILED:
        reason, permanent = REPORT_ERRORS.get(error or -1, ("failed", False))
        return DeliveryReport(reference, False, permanent, reason, code, error)
    # 0 (accepted) or a status this adapter does not know: not final, nothing to record.
    return DeliveryReport(reference, False, False, None, code, error)


def parse_delivery_report(payload: object) -> list[DeliveryReport]:
    """CM's JSON status report (`{"messages": {"msg": {...}}}`, `msg` one object or a list of them) as reports.

    Raises MalformedDeliveryReport naming the field when the payload is not that format."""
    if not isinstance(payload, dict):
        raise MalformedDeliveryReport("messages", "the body must be CM's JSON status report, an object")
    messages = payload.get("messages")
    if not isinstance(messages, dict):
        raise MalformedDeliveryReport("messages", "must be an object holding msg")
    msg = messages.get("msg")
    if isinstance(msg, list):
        if not msg:
            raise MalformedDeliveryReport("messages.msg", "must hold at least one report")
        return [_report_of(item, f"messages.msg[{index}]") for index, item in enumerate(msg)]
    if msg is None:
        raise MalformedDeliveryReport("messages.msg", "is missing")
    return [_report_of(msg, "messages.msg")]
