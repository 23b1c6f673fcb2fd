"""Signal files: a partner's monthly CSV of arrears signals, answered with a per-row report."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from partner_gateway.db import SessionDep as Session
from partner_gateway.inbound.body import read_limited
from partner_gateway.signal_files import service
from partner_gateway.signal_files.parsing import COLUMNS
from partner_gateway.signal_files.schemas import SignalFileRead

router = APIRouter(prefix="/v1/partners/{partner_id}/signal-files", tags=["signal files"])


SIGNED = {
    "description": "Standard Webhooks headers webhook-id, webhook-timestamp and webhook-signature "
    "(v1,<base64 HMAC-SHA256 of id.timestamp.body> over the file's exact bytes, with the partner's inbound secret)"
}
FILE_BODY = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "UTF-8, a header row with the columns " + ", ".join(COLUMNS) + "; `;` or `,` "
                "separated; amounts with a decimal comma or point; dates YYYY-MM-DD; crisis and consent_given "
                "yes or no.",
            }
        }
    },
}


async def limited_file(request: Request) -> bytes:
    """The raw file (the signature covers its exact bytes), refused with 413 beyond the size limit."""
    limit: int = request.app.state.settings.signal_file_max_bytes
    return await read_limited(request, limit=limit, what="file")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SignalFileRead,
    openapi_extra={"requestBody": FILE_BODY},
    responses={
        200: {"description": "This file was taken before: its first report, nothing processed again"},
        400: {"description": "Not UTF-8, or not readable as CSV"},
        401: SIGNED,
        403: {"description": "Only housing corporations and utilities send signal files"},
        413: {"description": "Over the size limit"},
        415: {"description": "Not sent as text/csv"},
        422: {"description": "The header row is not the contract's columns, or a NUL character (naming row, column)"},
        429: {"description": "Over the partner's daily budget of signal-file bytes; see Retry-After"},
    },
)
async def take_signal_file(
    partner_id: str,
    request: Request,
    response: Response,
    session: Session,
    body: Annotated[bytes, Depends(limited_file)],
) -> SignalFileRead:
    """Take a partner's signed signal file: each row checked, good rows stored as arrears.reported messages."""
    taken = await service.take_signal_file(
        session,
        partner_id=partner_id,
        body=body,
        headers=request.headers,
        clock=request.app.state.clock,
        limiter=request.app.state.signal_file_limiter,
    )
    if taken.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["webhook-replayed"] = "true"
    return SignalFileRead.model_validate(taken.signal_file)


@router.get("/{file_id}", response_model=SignalFileRead, responses={401: SIGNED, 404: {"description": "No such"}})
async def read_signal_file(partner_id: str, file_id: str, request: Request, session: Session) -> SignalFileRead:
    """The report of one of the partner's signal files. The request is signed over its method and path
    (`GET /v1/partners/{partner_id}/signal-files/{file_id}`) in place of a body."""
    signal_file = await service.read_signal_file(
        session,
        partner_id=partner_id,
        file_id=file_id,
        method=request.method,
        path=request.url.path,
        headers=request.headers,
        clock=request.app.state.clock,
    )
    return SignalFileRead.model_validate(signal_file)
