"""The one size-limited reader of a raw request body, for signed messages and signal files alike."""

from fastapi import Request

from partner_gateway.inbound.service import BodyTooLarge


async def read_limited(request: Request, *, limit: int, what: str) -> bytes:
    """The raw body (a signature covers its exact bytes), refused with 413 beyond `limit` bytes: at once when
    Content-Length says so, otherwise as soon as the streamed body passes the limit."""
    too_large = BodyTooLarge(f"the {what} is larger than {limit} bytes", field="body", max_bytes=limit)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)
