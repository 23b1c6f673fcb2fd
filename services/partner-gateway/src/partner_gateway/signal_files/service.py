"""Taking a partner's signal file: verify, check each row, store the good rows as arrears.reported messages
(forwarded to case-api by the inbound worker, like messages sent one by one) and the report; never commits."""

import csv
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as day_time
from http import HTTPStatus
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from partner_gateway.inbound import signatures
from partner_gateway.inbound.models import InboundMessage, InboundStatus
from partner_gateway.inbound.rate_limit import RateLimiter
from partner_gateway.inbound.service import MalformedBody
from partner_gateway.partners.models import Partner, PartnerKind
from partner_gateway.partners.repository import PartnerRepository
from partner_gateway.signal_files.models import SignalFile
from partner_gateway.signal_files.parsing import BadContent, BadHeader, read_rows
from service_kit.clock import Clock
from service_kit.errors import DomainError, Forbidden, NotFound, Unprocessable

SENDERS = (PartnerKind.housing_corporation, PartnerKind.utility)  # contract.md: corporations and utilities
CHUNK = 5_000  # rows per INSERT statement batch


class NotCsv(DomainError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "not-csv"
    title = "A signal file is CSV"
    fix = "Send the file with `Content-Type: text/csv` (UTF-8, the contract's header row; docs/partners.md)."


@dataclass(frozen=True)
class Taken:
    signal_file: SignalFile
    replayed: bool  # the same file was taken before: this is its first report


def new_id(prefix: str) -> str:
    # Time-ordered, as inbound message ids are: the worker forwards a file's rows in the order of the file.
    return f"{prefix}_{time.time_ns():016x}{secrets.token_hex(6)}"


async def _signed_partner(
    session: AsyncSession, *, partner_id: str, body: bytes, headers: Mapping[str, str], now: datetime
) -> Partner:
    partner = await PartnerRepository(session).get(partner_id)
    if partner is None:
        raise NotFound(f"no partner with id {partner_id}", field="partner_id")
    signed = signatures.read_headers(headers, now=now)
    valid_secrets = partner.inbound_secrets(now)
    if not valid_secrets:
        raise signatures.BadSignature("this partner has no inbound secret registered; ask the municipality for one")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("the file is not UTF-8 encoded", field="body") from None
    signatures.verify(signed, text, valid_secrets)
    return partner


async def take_signal_file(
    session: AsyncSession,
    *,
    partner_id: str,
    body: bytes,
    headers: Mapping[str, str],
    clock: Clock,
    limiter: RateLimiter,
) -> Taken:
    """Checks the file row by row, stores its good rows as messages and its report; a file taken before (the
    same bytes) is answered with its first report and not processed again. A new file costs its size from the
    partner's daily budget (`limiter`, 429 beyond), once its signature holds."""
    now = clock.now()
    partner = await _signed_partner(session, partner_id=partner_id, body=body, headers=headers, now=now)
    if partner.kind not in SENDERS:
        raise Forbidden(
            f"a {partner.kind.value} may not send signal files; only housing corporations and utilities do",
            field="partner_id",
        )
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "text/csv":
        raise NotCsv("a signal file is sent with content-type text/csv", field="content-type")
    content_sha256 = hashlib.sha256(body).hexdigest()
    if (earlier := await _by_hash(session, partner.id, content_sha256)) is not None:
        return Taken(earlier, replayed=True)
    await limiter.take(partner.id, cost=len(body))

    report: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    try:
        composition_allowed = partner.kind is PartnerKind.housing_corporation
        for parsed in read_rows(body.decode("utf-8"), composition_allowed=composition_allowed):
            if parsed.errors:
                report.append({"row": parsed.row, "status": "rejected", "errors": parsed.errors})
                continue
            message_id = new_id("im")
            data = parsed.data
            # Passing the signal on needs no consent (R1: Besluit gemeentelijke schuldhulpverlening, art. 2);
            # whether the tenant consented or did not object is kept with the message and shown in the report.
            payload = {**data, "consent_given": parsed.consent_given}
            messages.append(
                {
                    "id": message_id,
                    "partner_id": partner.id,
                    "webhook_id": f"signal-file:{content_sha256[:32]}:{parsed.row}",
                    "body_sha256": hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest(),
                    "type": "arrears.reported",
                    "reference": parsed.reference,
                    "occurred_at": datetime.combine(datetime.fromisoformat(data["signal_date"]), day_time(), UTC),
                    "payload": payload,
                    "status": InboundStatus.received,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
            report.append(
                {
                    "row": parsed.row,
                    "status": "accepted",
                    "message_id": message_id,
                    "consent_given": parsed.consent_given,
                }
            )
    except BadHeader as error:
        raise Unprocessable(str(error), field=error.column or "header") from None
    except BadContent as error:
        raise Unprocessable(str(error), field=error.column, row=error.row) from None
    except csv.Error as error:  # a NUL byte, a field beyond the csv module's size limit
        raise MalformedBody(f"the file is not readable CSV ({error})", field="body") from None

    signal_file = SignalFile(
        id=new_id("sf"),
        partner_id=partner.id,
        content_sha256=content_sha256,
        size_bytes=len(body),
        rows=len(report),
        accepted=len(messages),
        rejected=len(report) - len(messages),
        report=report,
        received_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(signal_file)
    except IntegrityError:
        # The same file, stored by a concurrent request since the look-up above.
        earlier = await _by_hash(session, partner.id, content_sha256)
        if earlier is None:
            raise
        return Taken(earlier, replayed=True)
    for start in range(0, len(messages), CHUNK):
        # Core executemany: one prepared INSERT per chunk, no ORM objects for 100,000 rows.
        await session.execute(insert(InboundMessage), messages[start : start + CHUNK])
    return Taken(signal_file, replayed=False)


async def _by_hash(session: AsyncSession, partner_id: str, content_sha256: str) -> SignalFile | None:
    query = select(SignalFile).where(SignalFile.partner_id == partner_id, SignalFile.content_sha256 == content_sha256)
    return (await session.scalars(query)).one_or_none()


async def read_signal_file(
    session: AsyncSession,
    *,
    partner_id: str,
    file_id: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    clock: Clock,
) -> SignalFile:
    """A partner's own file's report (signed over its method and path); another partner's file is a 404."""
    content = signatures.read_content(method, path).encode()
    await _signed_partner(session, partner_id=partner_id, body=content, headers=headers, now=clock.now())
    signal_file = await session.get(SignalFile, file_id)
    if signal_file is None or signal_file.partner_id != partner_id:
        raise NotFound(f"partner {partner_id} has no signal file {file_id}", field="file_id")
    return signal_file
