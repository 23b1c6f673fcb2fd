"""Partners' messages in: signed with Standard Webhooks, answered 202 once stored."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from partner_gateway.db import SessionDep as Session
from partner_gateway.inbound import service
from partner_gateway.inbound.body import read_limited
from partner_gateway.inbound.models import InboundStatus
from partner_gateway.inbound.rate_limit import RateLimiter
from partner_gateway.inbound.schemas import MessageAccepted, MessageRead

router = APIRouter(prefix="/v1/partners/{partner_id}/messages", tags=["partner messages"])


SIGNED = {
    "description": "Standard Webhooks headers webhook-id, webhook-timestamp and webhook-signature "
    "(v1,<base64 HMAC-SHA256 of id.timestamp.body> with the partner's inbound secret)"
}
MESSAGE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["type", "reference", "occurred_at", "data"],
                "properties": {
                    "type": {"type": "string", "examples": ["arrears.reported"]},
                    "reference": {"type": "string", "description": "The partner's own reference"},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "data": {"type": "object", "description": "As the JSON Schema of the type says"},
                },
            }
        }
    },
}


async def limited_body(request: Request) -> bytes:
    """The raw body (the signature covers its exact bytes), refused with 413 beyond the size limit."""
    limit: int = request.app.state.settings.inbound_max_body_bytes
    return await read_limited(request, limit=limit, what="body")


def limiter(request: Request) -> RateLimiter:
    rate_limiter: RateLimiter = request.app.state.inbound_limiter
    return rate_limiter


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageAccepted,
    openapi_extra={"requestBody": MESSAGE_BODY},
    responses={
        400: {"description": "The body is not JSON, or breaks the type's schema (`errors` names every field)"},
        401: SIGNED,
        403: {"description": "A type this partner's kind may not send"},
        409: {"description": "The webhook-id was used for another body"},
        413: {"description": "Over the size limit"},
        422: {
            "description": "A rule of the contract: household facts this kind may not send, a text that "
            "cannot be forwarded (a lone UTF-16 surrogate)"
        },
        429: {"description": "Over the partner's rate limit; see Retry-After"},
    },
)
async def receive_message(
    partner_id: str,
    request: Request,
    response: Response,
    session: Session,
    body: Annotated[bytes, Depends(limited_body)],
    rate_limiter: Annotated[RateLimiter, Depends(limiter)],
) -> MessageAccepted:
    """Take a partner's signed message; 202 with its id once stored (a repeated webhook-id: the same answer)."""
    received = await service.receive_message(
        session,
        partner_id=partner_id,
        body=body,
        headers=request.headers,
        clock=request.app.state.clock,
        limiter=rate_limiter,
    )
    if received.replayed:
        response.headers["webhook-replayed"] = "true"
    return MessageAccepted(message_id=received.message.id)


@router.get("/{message_id}", response_model=MessageRead, responses={401: SIGNED, 404: {"description": "No such"}})
async def read_message(partner_id: str, message_id: str, request: Request, session: Session) -> MessageRead:
    """The processing outcome of one of the partner's messages. The request is signed over its method and path
    (`GET /v1/partners/{partner_id}/messages/{message_id}`) in place of a body."""
    await service.authenticate_reader(
        session,
        partner_id=partner_id,
        method=request.method,
        path=request.url.path,
        headers=request.headers,
        clock=request.app.state.clock,
    )
    message = await service.read_message(session, partner_id=partner_id, message_id=message_id)
    read = MessageRead.model_validate(message)
    if message.status is not InboundStatus.received:
        read.next_attempt_at = None
    return read
