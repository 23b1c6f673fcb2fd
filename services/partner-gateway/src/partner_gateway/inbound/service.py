"""Receiving partners' messages: verify, validate, store (forwarding them to case-api is inbound/forwarding.py);
never commits."""

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from partner_gateway.inbound import signatures
from partner_gateway.inbound.models import InboundMessage, InboundStatus
from partner_gateway.inbound.rate_limit import RateLimiter
from partner_gateway.inbound.repository import InboundRepository
from partner_gateway.inbound.types import MESSAGE_TYPES
from partner_gateway.inbound.validation import validate_data, validate_envelope, validate_household_facts
from partner_gateway.partners.models import Partner, PartnerKind
from partner_gateway.partners.repository import PartnerRepository
from service_kit.clock import Clock
from service_kit.errors import Conflict, DomainError, Forbidden, NotFound, Unprocessable

MAX_JSON_DEPTH = 32  # the deepest message type nests 4 levels; far below what makes parsing cost grow


class MalformedBody(DomainError):
    code = "malformed-body"  # 400
    title = "The body is not readable JSON (or CSV)"
    fix = (
        "Send UTF-8 JSON (a signal file: UTF-8 CSV) exactly as you signed it; `detail` says where reading failed. "
        "docs/partners.md shows a signed example."
    )


class BodyTooLarge(DomainError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "body-too-large"
    title = "The body is over the size limit"
    fix = "A message is at most 64 KiB; send bulk as a signal file (up to its own limit, docs/partners.md)."


class TooDeep(DomainError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "body-too-deep"
    title = "The body nests deeper than the limit"
    fix = "No message type nests more than a few levels; the limit is 32. Send the fields of contract.md only."


def check_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuses JSON nested deeper than `limit` before it is parsed: one linear pass over the raw bytes that
    counts brackets outside strings (a 413 naming the limit, not a parser's recursion error as a 500)."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                raise TooDeep(f"the body nests JSON deeper than {limit} levels", field="body", max_depth=limit)
        elif byte in (0x5D, 0x7D):
            depth -= 1


def _unencodable(value: object, path: str) -> str | None:
    """The dotted path of the first string (or key) that UTF-8 cannot encode (a lone UTF-16 surrogate such as
    "\\ud800"): such a message could never be forwarded."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _unencodable(key, where) is not None:
                return path or "body"
            if (found := _unencodable(item, where)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _unencodable(item, f"{path}[{index}]")) is not None:
                return found
    return None


def refuse_unencodable(document: object) -> None:
    if (field := _unencodable(document, "")) is not None:
        raise Unprocessable(
            f"{field}: contains a lone UTF-16 surrogate (an escape such as \\ud800 without its pair)", field=field
        )


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
    await limiter.take(partner.id)

    repository = InboundRepository(session)
    body_sha256 = hashlib.sha256(body).hexdigest()
    if (earlier := await repository.by_webhook_id(partner.id, signed.webhook_id)) is not None:
        return _replay(earlier, body_sha256)

    check_depth(body)
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise MalformedBody(f"the body is not valid JSON ({error})", field="body") from None
    validate_envelope(document)
    refuse_unencodable(document)
    message_type = document["type"]
    allowed = MESSAGE_TYPES[partner.kind]
    if message_type not in allowed:
        raise Forbidden(
            f"a {partner.kind.value} may not send messages of type {message_type}",
            field="type",
            allowed_types=list(allowed),
        )
    validate_data(message_type, document["data"])
    if message_type == "arrears.reported":
        validate_household_facts(document["data"], kind_knows_it=partner.kind is PartnerKind.housing_corporation)

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
    session: AsyncSession, *, partner_id: str, method: str, path: str, headers: Mapping[str, str], clock: Clock
) -> Partner:
    """A read is signed like a message, over its method and path instead of a body: only the partner reads its
    own outcomes, and a captured signature reads nothing but the message it was made for."""
    partner = await PartnerRepository(session).get(partner_id)
    if partner is None:
        raise NotFound(f"no partner with id {partner_id}", field="partner_id")
    now = clock.now()
    signed = signatures.read_headers(headers, now=now)
    valid_secrets = partner.inbound_secrets(now)
    if not valid_secrets:
        raise signatures.BadSignature("this partner has no inbound secret registered; ask the municipality for one")
    signatures.verify(signed, signatures.read_content(method, path), valid_secrets)
    return partner
