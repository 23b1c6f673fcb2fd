"""Idempotency-Key on every write under /v1 (contract.md): a repeated write gets the first answer and changes
nothing again; the same key with another request is refused.

1. `idempotency_key`, a dependency of every case endpoint (through `deps.case_context`), looks (caller, key) up in
   the request's transaction. The same request again is answered with the stored status and body
   (`ReplayStoredAnswer`); another request under the key gets 422 naming the `Idempotency-Key` header. A new key
   inserts a claim row (in a savepoint) before the endpoint runs, so the claim commits with the write and its
   outbox rows, or rolls back with them; a concurrent duplicate waits on the primary key, then finds the claim.
2. `IdempotencyMiddleware` stores the answer into the claim when the response has been produced, encrypted with
   the BSN encryption key (an answer may hold a full BSN, names and addresses; R15) and bound to caller and key,
   with the case it is about, so that erasing the case erases its stored answers (retention, R18).

The trade-off: FastAPI commits the request's session before the response body exists outside the endpoint, so
the answer is written just after the commit, in its own short transaction, and only then sent to the client. A
repeat can therefore never run a write twice (the committed claim holds the key); a repeat after a crash between
the commit and the stored answer gets 409 "still being processed" instead of the answer, until the record expires
(`idempotency_key_hours`). A refused write (an error rolls the claim back) leaves its key free for a retry.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import FastAPI, Header, Request, Response
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from case_api.db import SessionDep
from case_api.idempotency.models import IdempotencyRecord
from case_api.privacy.bsn import BsnTokenError, BsnVault, vault_from_settings
from service_kit.auth import CurrentPrincipal
from service_kit.errors import Conflict, Unprocessable

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotency-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PENDING = 0  # status_code of a claim whose answer is not written yet (never committed as such)


class ReplayStoredAnswer(Exception):
    """The request repeats an earlier one under the same key: answer what was answered then."""

    def __init__(self, status_code: int, body: bytes) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body


@dataclass(frozen=True)
class IdempotencyClaim:
    caller: str
    key: str


CLAIM = "idempotency_claim"  # where the dependency leaves its claim on request.state


def fingerprint(method: str, path: str, body: bytes) -> str:
    """sha256 of method, path (with query) and body: what makes two requests "the same request"."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def _stored(session: AsyncSession, caller: str, key: str) -> IdempotencyRecord | None:
    query = select(IdempotencyRecord).where(IdempotencyRecord.caller == caller, IdempotencyRecord.key == key)
    return (await session.scalars(query)).one_or_none()


def _context(caller: str, key: str) -> bytes:
    """What a stored answer is bound to: it opens for this caller and key only."""
    return json.dumps(["idempotency_record", caller, key]).encode()


def _replay_or_refuse(record: IdempotencyRecord, request_fingerprint: str, vault: BsnVault) -> ReplayStoredAnswer:
    if record.request_fingerprint != request_fingerprint:
        raise Unprocessable(
            f"this {HEADER} was used for a different request; send a new key for a new request", field=HEADER
        )
    if record.status_code == PENDING:
        raise Conflict(f"a request with this {HEADER} is still being processed; retry shortly", field=HEADER)
    try:
        body = vault.unseal(record.response_body, context=_context(record.caller, record.key))
    except BsnTokenError:
        raise Conflict(f"the answer stored for this {HEADER} cannot be read; send a new key", field=HEADER) from None
    return ReplayStoredAnswer(record.status_code, body)


async def idempotency_key(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=200,
            description="Makes a write safe to repeat: the same key and request get the first answer again.",
        ),
    ] = None,
) -> None:
    """Replays a repeated write, refuses a reused key, or claims a new key in the request's transaction."""
    if key is None or request.method not in WRITE_METHODS:
        return
    query = f"?{request.url.query}" if request.url.query else ""
    request_fingerprint = fingerprint(request.method, request.url.path + query, await request.body())
    existing = await _stored(session, principal.subject, key)
    if existing is None:
        claim = IdempotencyRecord(
            caller=principal.subject,
            key=key,
            request_fingerprint=request_fingerprint,
            status_code=PENDING,
            response_body=b"",
            created_at=request.app.state.clock.now(),
            case_id=request.path_params.get("case_id"),
        )
        try:
            async with session.begin_nested():
                session.add(claim)
        except IntegrityError:
            existing = await _stored(session, principal.subject, key)  # a concurrent duplicate committed first
        else:
            setattr(request.state, CLAIM, IdempotencyClaim(caller=principal.subject, key=key))
            return
    if existing is None:
        raise Conflict(f"a request with this {HEADER} was rolled back meanwhile; retry", field=HEADER)
    raise _replay_or_refuse(existing, request_fingerprint, vault_from_settings(request.app.state.settings))


async def _replay(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReplayStoredAnswer)
    return Response(
        content=exc.body, status_code=exc.status_code, media_type="application/json", headers={REPLAYED_HEADER: "true"}
    )


class IdempotencyMiddleware:
    """Stores the answer of a write that claimed an Idempotency-Key, once the response is complete."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # the dependency's request.state is this dict
        status = 0
        body = bytearray()
        held: list[Message] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
            if state.get(CLAIM) is None:
                await send(message)
            else:
                held.append(message)  # answered only once the answer is stored (below)

        await self.app(scope, receive, capture)
        claim: IdempotencyClaim | None = state.get(CLAIM)
        if claim is not None:
            # Stored before the client has the answer: a repeat sent right after it gets the stored answer, not
            # 409 "still being processed" (only a crash between the commit and this store leaves the claim open).
            app_state = scope["app"].state
            vault = vault_from_settings(app_state.settings)
            try:
                await _store_answer(app_state.session_factory, vault, claim, status, bytes(body), path=scope["path"])
            finally:
                for message in held:
                    await send(message)


def _case_of_answer(path: str, body: bytes) -> str | None:
    """The case a write without one in its path made or touched (POST /v1/signals, POST /v1/cases, a task)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    case_id = answer.get("case_id") if "case_id" in answer else answer.get("id") if path == "/v1/cases" else None
    return case_id if isinstance(case_id, str) else None


async def _store_answer(
    sessions: async_sessionmaker[AsyncSession],
    vault: BsnVault,
    claim: IdempotencyClaim,
    status: int,
    body: bytes,
    *,
    path: str,
) -> None:
    where = (
        IdempotencyRecord.caller == claim.caller,
        IdempotencyRecord.key == claim.key,
        IdempotencyRecord.status_code == PENDING,
    )
    async with sessions() as session, session.begin():
        if 200 <= status < 300:
            answer = (
                update(IdempotencyRecord)
                .where(*where)
                .values(
                    status_code=status,
                    response_body=vault.seal(body, context=_context(claim.caller, claim.key)),
                    # The case of the claim's path, else the one the answer names.
                    case_id=func.coalesce(IdempotencyRecord.case_id, _case_of_answer(path, body)),
                )
            )
            await session.execute(answer)
        else:  # nothing to replay: free the key (an error normally rolled the claim back already)
            await session.execute(delete(IdempotencyRecord).where(*where))


def install_idempotency(app: FastAPI) -> None:
    """Answer replays and store answers for every write of `app` (the dependency sits in deps.case_context)."""
    app.add_exception_handler(ReplayStoredAnswer, _replay)
    app.add_middleware(IdempotencyMiddleware)


async def forget_expired(session: AsyncSession, *, now: datetime, kept: timedelta) -> int:
    """Drop stored answers older than `kept`: they may hold personal data, and a retry comes within hours."""
    result = await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - kept))
    return int(getattr(result, "rowcount", 0) or 0)
