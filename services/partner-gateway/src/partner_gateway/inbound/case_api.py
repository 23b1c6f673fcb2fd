"""The gateway's client of case-api: its REST API under /v1, called with a service token (role partner_gateway).

The token file and the HTTP plumbing are service_kit.service_client's, shared with the notifier's client: the
token is read from a file (setting `case_api_token_file`) at every call, so whatever writes the file (the
deployment's client-credentials sidecar, or the local stack in development and tests) can renew it without a
restart. Service code never mints tokens itself.
"""

from typing import Any
from urllib.parse import urlencode

from service_kit.service_client import ServiceAnswer, ServiceClient, ServiceUnavailable, TokenFile, TokenSource
from service_kit.tracing import current_traceparent

__all__ = ["CaseApi", "CaseApiAnswer", "CaseApiUnavailable", "TokenFile", "TokenSource"]

CaseApiAnswer = ServiceAnswer


class CaseApiUnavailable(ServiceUnavailable):
    """case-api could not be asked (network, timeout, no token): the message waits and is tried again."""


class CaseApi(ServiceClient):
    unavailable = CaseApiUnavailable

    async def post(self, path: str, body: dict[str, Any], *, idempotency_key: str) -> CaseApiAnswer:
        """One write; the Idempotency-Key makes a retry after a lost answer get the first answer."""
        return await self.request("POST", path, json=body, headers={"idempotency-key": idempotency_key})

    async def get(self, path: str, *, params: dict[str, str] | None = None) -> CaseApiAnswer:
        """One read, in the caller's trace (case-api writes the trace id in its processing log, R17)."""
        traceparent = current_traceparent()
        query = f"?{urlencode(params)}" if params else ""
        return await self.request("GET", path + query, headers={"traceparent": traceparent} if traceparent else None)
