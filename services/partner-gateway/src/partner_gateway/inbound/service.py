"""Receiving partners' messages (verify, validate, store) and forwarding them to case-api; never commits."""

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from partner_gateway.config import Settings
from partner_gateway.inbound import signatures
from partner_gateway.inbound.case_api import CaseApi, CaseApiAnswer, CaseApiUnavailable
from partner_gateway.inbound.models import InboundMessage, InboundStatus
from partner_gateway.inbound.rate_limit import RateLimiter
from partner_gateway.inbound.repository import InboundRepository
from partner_gateway.inbound.types import MESSAGE_TYPES
from partner_gateway.inbound.validation import validate_data, validate_envelope
from partner_gateway.partners.models import Partner, PartnerKind
from partner_gateway.partners.repository import PartnerRepository
from service_kit.clock import Clock
from service_kit.errors import Conflict, DomainError, Forbidden, NotFound

log = logging.getLogger(__name__)

RETRY_BASE = timedelta(seconds=2)
# case-api answers that say "not now" rather than "not this": the message waits and is tried again.
RETRYABLE = frozenset({401, 403, 408, 425, 429})


class MalformedBody(DomainError):
    code = "malformed-body"  # 400


class BodyTooLarge(DomainError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "body-too-large"


@dataclass(frozen=True)
class Received:
    message: InboundMessage
    replayed: bool  # the webhook-id was seen before: this is the first answer again


def new_message_id() -> str:
    # Time-ordered (wall clock, only for the order of ids) so that messages stored at one instant of the
    # injected clock still keep their arrival order.
    return f"im_{time.time_ns():016x}{secrets.token_hex(6)}"


async def receive_message(
    session: AsyncSession,
    *,
    partner_id: str,
    body: bytes,
    headers: Mapping[str, str],
    clock: Clock,
    limiter: RateLimiter,
) -> Received:
    """Verifies, validates and stores a partner's message; a repeated webhook-id returns the stored one."""
    partner = await PartnerRepository(session).get(partner_id)
    if partner is None:
        raise NotFound(f"no partner with id {partner_id}", field="partner_id")
    now = clock.now()
    signed = signatures.read_headers(headers, now=now)
    valid_secrets = partner.inbound_secrets(now)
    if not valid_secrets:
        raise signatures.BadSignature("this partner has no inbound secret registered; ask the municipality for one")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("the body is not UTF-8 encoded JSON", field="body") from None
    signatures.verify(signed, text, valid_secrets)
    limiter.take(partner.id)

    repository = InboundRepository(session)
    body_sha256 = hashlib.sha256(body).hexdigest()
    if (earlier := await repository.by_webhook_id(partner.id, signed.webhook_id)) is not None:
        return _replay(earlier, body_sha256)

    try:
        document = json.loads(text)
    except ValueError as error:
        raise MalformedBody(f"the body is not valid JSON ({error})", field="body") from None
    validate_envelope(document)
    message_type = document["type"]
    allowed = MESSAGE_TYPES[partner.kind]
    if message_type not in allowed:
        raise Forbidden(
            f"a {partner.kind.value} may not send messages of type {message_type}",
            field="type",
            allowed_types=list(allowed),
        )
    validate_data(message_type, document["data"])

    message = InboundMessage(
        id=new_message_id(),
        partner_id=partner.id,
        webhook_id=signed.webhook_id,
        body_sha256=body_sha256,
        type=message_type,
        reference=document["reference"],
        occurred_at=datetime.fromisoformat(document["occurred_at"]),
        payload=document["data"],
        status=InboundStatus.received,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            repository.add(message)
    except IntegrityError:
        # The same webhook-id, stored by a concurrent request since the look-up above.
        earlier = await repository.by_webhook_id(partner.id, signed.webhook_id)
        if earlier is None:
            raise
        return _replay(earlier, body_sha256)
    return Received(message, replayed=False)


def _replay(earlier: InboundMessage, body_sha256: str) -> Received:
    if earlier.body_sha256 != body_sha256:
        raise Conflict(
            "this webhook-id was used for a different message; send a new webhook-id for a new message",
            field="webhook-id",
            message_id=earlier.id,
        )
    return Received(earlier, replayed=True)


async def read_message(session: AsyncSession, *, partner_id: str, message_id: str) -> InboundMessage:
    """A partner's own message; another partner's is as absent as one that does not exist."""
    message = await InboundRepository(session).of_partner(partner_id, message_id)
    if message is None:
        raise NotFound(f"partner {partner_id} has no message {message_id}", field="message_id")
    return message


async def authenticate_reader(
    session: AsyncSession, *, partner_id: str, headers: Mapping[str, str], clock: Clock
) -> Partner:
    """A read is signed like a message, over an empty body: only the partner reads its own outcomes."""
    partner = await PartnerRepository(session).get(partner_id)
    if partner is None:
        raise NotFound(f"no partner with id {partner_id}", field="partner_id")
    now = clock.now()
    signed = signatures.read_headers(headers, now=now)
    valid_secrets = partner.inbound_secrets(now)
    if not valid_secrets:
        raise signatures.BadSignature("this partner has no inbound secret registered; ask the municipality for one")
    signatures.verify(signed, "", valid_secrets)
    return partner


# --- forwarding to case-api ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """A write to case-api that carries the message."""

    path: str
    body: dict[str, Any]
    case_id: str | None


@dataclass(frozen=True)
class Settle:
    """No write to case-api: the message ends here with this status and outcome."""

    status: InboundStatus
    outcome: dict[str, Any]


@dataclass(frozen=True)
class Wait:
    """No write yet: the message waits for another one and is tried again later."""

    reason: str


WAIT_FOR_LANDLORD = "wait-for-landlord"  # a sentinel of _bailiff_case, never a case id (those are UUIDs)

BAILIFF_PATHS = {
    "eviction.scheduled": "eviction/schedule",
    "eviction.postponed": "eviction/postpone",
    "eviction.cancelled": "eviction/cancel",
    "eviction.executed": "eviction/execute",
}


async def process_message(
    session: AsyncSession, *, message: InboundMessage, case_api: CaseApi, settings: Settings, clock: Clock
) -> None:
    """One attempt to forward a received message; on a passing failure the next attempt is scheduled."""
    partner = await session.get(Partner, message.partner_id)
    assert partner is not None  # the foreign key holds it
    now = clock.now()
    plan = await _plan(session, message=message, partner=partner, settings=settings, now=now)
    if isinstance(plan, Settle):
        _settle(message, plan.status, plan.outcome, now=now)
        return
    message.attempts += 1
    if isinstance(plan, Wait):
        _retry_later(message, now=now, error=plan.reason, settings=settings)
        return
    try:
        answer = await case_api.post(plan.path, plan.body, idempotency_key=f"partner-message-{message.id}")
    except CaseApiUnavailable as error:
        _retry_later(message, now=now, error=str(error), settings=settings)
        return
    if answer.ok:
        case_id = plan.case_id or _answer_field(answer, "case_id")
        outcome: dict[str, Any] = {"case_id": case_id, "case_api_status": answer.status_code}
        if message.type == "arrears.reported" and case_id:
            outcome["case_opened"] = bool(_answer_field(answer, "case_opened"))
            await InboundRepository(session).map_reference(
                partner_id=partner.id, reference=message.reference, case_id=case_id, now=now
            )
        _settle(message, InboundStatus.processed, outcome, now=now)
    elif answer.status_code in RETRYABLE or answer.status_code >= 500:
        if answer.status_code in (401, 403):
            log.error(
                "case-api refused the gateway's service token (%s); check case_api_token_file", answer.status_code
            )
        _retry_later(message, now=now, error=f"case-api answered {answer.status_code}", settings=settings)
    else:
        _settle(
            message,
            InboundStatus.rejected,
            {"case_id": plan.case_id, "case_api_status": answer.status_code, "problem": _problem_of(answer)},
            now=now,
        )


async def _plan(
    session: AsyncSession, *, message: InboundMessage, partner: Partner, settings: Settings, now: datetime
) -> Forward | Settle | Wait:
    data = message.payload
    if message.type == "arrears.reported":
        return Forward("/v1/signals", _signal_body(message, partner, settings), case_id=None)
    if partner.kind is not PartnerKind.bailiff or message.type not in (
        *BAILIFF_PATHS,
        "summons.served",
        "judgment.given",
    ):
        return Settle(
            InboundStatus.processed,
            {
                "case_id": await InboundRepository(session).case_of(partner.id, message.reference),
                "forwarded": False,
                "detail": f"{message.type} is kept by the gateway; case-api does not take it from partners yet",
            },
        )
    case_id = await _bailiff_case(session, partner=partner, message=message, now=now)
    if case_id is WAIT_FOR_LANDLORD:
        return Wait("the landlord's message about this tenancy is not processed yet")
    if case_id is None:
        return Settle(
            InboundStatus.failed,
            {
                "case_id": None,
                "error": "unknown_reference",
                "detail": f"no case is known for reference {message.reference} of {partner.id}; send the "
                "housing corporation's partner_id and tenancy_reference in data.landlord to link it",
            },
        )
    if message.type == "summons.served":
        body = {"kind": "summons_served", "occurred_on": data["served_on"], "court_reference": data["court_reference"]}
        if "hearing_date" in data:
            body["hearing_date"] = data["hearing_date"]
        return Forward(f"/v1/cases/{case_id}/legal-steps", body, case_id)
    if message.type == "judgment.given":
        body = {
            "kind": "judgment_given",
            "occurred_on": data["given_on"],
            "court_reference": data["court_reference"],
            "eviction_granted": data["eviction_granted"],
        }
        return Forward(f"/v1/cases/{case_id}/legal-steps", body, case_id)
    if message.type in ("eviction.scheduled", "eviction.postponed"):
        body = {
            "eviction_date": data["eviction_date"],
            "served_on": data["served_on"],
            "bailiff_reference": message.reference,
        }
    elif message.type == "eviction.cancelled":
        body = {"reason_code": data["reason_code"]}
    else:
        body = {"executed_on": data["executed_on"]}
    return Forward(f"/v1/cases/{case_id}/{BAILIFF_PATHS[message.type]}", body, case_id)


async def _bailiff_case(
    session: AsyncSession, *, partner: Partner, message: InboundMessage, now: datetime
) -> str | None:
    """The case of a bailiff's file number; the first message of a file links it through the landlord's
    tenancy reference, which the landlord's arrears signal mapped to its case."""
    repository = InboundRepository(session)
    case_id = await repository.case_of(partner.id, message.reference)
    landlord = message.payload.get("landlord")
    if case_id is not None or not isinstance(landlord, dict):
        return case_id
    corporation = await PartnerRepository(session).get(landlord["partner_id"])
    if corporation is None or corporation.kind is not PartnerKind.housing_corporation:
        return None
    case_id = await repository.case_of(corporation.id, landlord["tenancy_reference"])
    if case_id is not None:
        await repository.map_reference(partner_id=partner.id, reference=message.reference, case_id=case_id, now=now)
    elif await repository.waiting(corporation.id, landlord["tenancy_reference"]):
        return WAIT_FOR_LANDLORD
    return case_id


def _signal_body(message: InboundMessage, partner: Partner, settings: Settings) -> dict[str, Any]:
    """POST /v1/signals: the household from the message's contact details (R1) and the signal."""
    data = message.payload
    household: dict[str, Any] = {
        "street": data["street"],
        "house_number": data["house_number"],
        "house_number_suffix": data.get("house_number_suffix", ""),
        "postcode": data["postcode"],
        "city": data["city"],
        "members": [
            {
                "role": "tenant",
                "initials": data["initials"],
                "surname_prefix": data.get("surname_prefix", ""),
                "surname": data["surname"],
            }
        ],
    }
    for optional in ("email", "mobile"):
        if optional in data:
            household[optional] = data[optional]
    if "mobile" in data:
        household["preferred_channel"] = "sms"
    elif "email" in data:
        household["preferred_channel"] = "email"
    return {
        "team": partner.team or settings.default_team,
        "household": household,
        "signal": {
            "partner_kind": partner.kind.value,
            "partner_id": partner.id,
            "partner_reference": message.reference,
            "arrears_amount": data["arrears_amount"],
            "arrears_since": data["arrears_since"],
            "signal_date": data["signal_date"],
            "crisis": data.get("crisis", False),
        },
    }


def _answer_field(answer: CaseApiAnswer, name: str) -> Any:
    return answer.body.get(name) if isinstance(answer.body, dict) else None


def _problem_of(answer: CaseApiAnswer) -> dict[str, Any]:
    """What case-api said, as far as the partner may read it: its problem's title, detail and field."""
    if not isinstance(answer.body, dict):
        return {}
    return {key: answer.body[key] for key in ("title", "detail", "field", "allowed_actions") if key in answer.body}


def _settle(message: InboundMessage, status: InboundStatus, outcome: dict[str, Any], *, now: datetime) -> None:
    message.status = status
    message.outcome = outcome
    message.processed_at = now
    message.last_error = None


def _retry_later(message: InboundMessage, *, now: datetime, error: str, settings: Settings) -> None:
    """The message stays received; the wait doubles up to inbound_retry_max_seconds, and never ends it."""
    wait = min(RETRY_BASE * 2 ** min(message.attempts - 1, 20), timedelta(seconds=settings.inbound_retry_max_seconds))
    message.next_attempt_at = now + wait
    message.last_error = error[:500]
