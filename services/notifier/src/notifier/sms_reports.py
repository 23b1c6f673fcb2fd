"""CM.com's status reports of our SMS: POST /v1/sms/delivery-reports behind HTTP Basic (docs/adr/0010).

CM is configured to post JSON status reports to https://<user>:<password>@<notifier>/v1/sms/delivery-reports.
An unknown reference is answered 200 as well (and counted): CM retries a non-2xx answer for 7 days, and a
report of a message we no longer know will not become known by retrying.
"""

import hashlib
import json
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from prometheus_client import Counter
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException

from notifier.channels.sms_cm import (
    DeliveryReport,
    MalformedDeliveryReport,
    notification_id_of,
    parse_delivery_report,
)
from notifier.config import Settings
from notifier.db import SessionDep
from notifier.notifications.lifecycle import apply_delivery_report
from service_kit.clock import Clock
from service_kit.errors import InvalidInput

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/sms", tags=["sms"])

REALM = "sms-delivery-reports"
_basic = HTTPBasic(
    auto_error=False,
    realm=REALM,
    description="The credentials NOTIFIER_SMS_REPORT_USERNAME / NOTIFIER_SMS_REPORT_PASSWORD, in the report URL "
    "configured at CM.",
)


class DeliveryReportsReceived(BaseModel):
    """What became of the reports of one request."""

    received: int
    applied: int
    unknown_reference: int
    not_final: int


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest())


def require_report_credentials(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> None:
    """HTTP Basic with the configured report credentials, compared in constant time."""
    if credentials is None:
        raise _unauthorized("status reports need HTTP Basic credentials: put them in the report URL at CM")
    settings: Settings = request.app.state.settings
    # Both compared, always, as equal-length digests: the answer's timing tells neither which one is wrong nor how
    # long the right one is.
    user_ok = _same(credentials.username, settings.sms_report_username)
    password_ok = _same(credentials.password, settings.sms_report_password.get_secret_value())
    if not (user_ok and password_ok):
        raise _unauthorized("the HTTP Basic credentials are not the configured report credentials")


async def read_reports(request: Request) -> list[DeliveryReport]:
    """The body as CM's JSON status report; 400 naming the field otherwise."""
    body = await request.body()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "the body is not JSON: set the status reports to JSON format in CM's Channels app", field="body"
        ) from None
    try:
        return parse_delivery_report(payload)
    except MalformedDeliveryReport as malformed:
        raise InvalidInput(f"not a CM status report: {malformed}", field=malformed.field) from None


def _report_counter(request: Request) -> Counter | None:
    """sms_delivery_reports_total{outcome} in this app's registry (created on first use)."""
    state = request.app.state
    counter: Counter | None = getattr(state, "sms_delivery_reports", None)
    metrics = getattr(state, "metrics", None)
    if counter is None and metrics is not None:
        counter = Counter(
            "sms_delivery_reports",
            "CM status reports received, by outcome: applied, unknown_reference, not_final.",
            ["outcome"],
            registry=metrics.registry,
        )
        state.sms_delivery_reports = counter
    return counter


async def _apply(session: AsyncSession, report: DeliveryReport, *, clock: Clock) -> bool:
    """Hand one final report to the notification's lifecycle; False when no notification has its reference."""
    # A notification whose hand-over was never committed has no provider reference yet; CM's reference is its
    # id without the dashes, and the lifecycle also finds a notification by its id.
    notification_id = notification_id_of(report.reference)
    for reference in (report.reference, *([notification_id] if notification_id else [])):
        known = await apply_delivery_report(
            session,
            channel="sms",
            provider_reference=reference,
            delivered=report.delivered,
            permanent=report.permanent,
            reason_code=report.reason_code or "",
            clock=clock,
        )
        if known:
            return True
    return False


@router.post(
    "/delivery-reports",
    response_model=DeliveryReportsReceived,
    dependencies=[Depends(require_report_credentials)],
    responses={401: {"description": "Missing or wrong HTTP Basic credentials"}},
)
async def receive_delivery_reports(
    request: Request,
    reports: Annotated[list[DeliveryReport], Depends(read_reports)],
    session: SessionDep,
) -> DeliveryReportsReceived:
    """CM's status report of SMS: a delivered or failed message updates its notification."""
    clock: Clock = request.app.state.clock
    applied = unknown = not_final = 0
    for report in reports:
        if not report.final:
            not_final += 1
            continue
        if await _apply(session, report, clock=clock):
            applied += 1
        else:
            unknown += 1
            log.warning(
                "SMS status report for unknown reference %s (status %s)", report.reference, report.provider_status
            )
    counter = _report_counter(request)
    if counter is not None:
        for outcome, count in (("applied", applied), ("unknown_reference", unknown), ("not_final", not_final)):
            if count:
                counter.labels(outcome).inc(count)
    return DeliveryReportsReceived(
        received=len(reports), applied=applied, unknown_reference=unknown, not_final=not_final
    )
