"""The gateway's client of case-api: its REST API under /v1, called with a service token (role partner_gateway).

The token is read from a file (setting `case_api_token_file`) at every call, so whatever writes the file (the
deployment's client-credentials sidecar, or the local stack in development and tests) can renew it without a
restart. Service code never mints tokens itself.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx


class CaseApiUnavailable(Exception):
    """case-api could not be asked (network, timeout, no token): the message waits and is tried again."""


@dataclass(frozen=True)
class CaseApiAnswer:
    status_code: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


class TokenSource(Protocol):
    def token(self) -> str: ...


class TokenFile:
    """A bearer token kept in a file by someone else; read at every call."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def token(self) -> str:
        try:
            token = self.path.read_text().strip()
        except OSError as error:
            raise CaseApiUnavailable(f"no service token for case-api at {self.path}: {error.strerror}") from None
        if not token:
            raise CaseApiUnavailable(f"the service token file {self.path} is empty")
        return token


class CaseApi:
    def __init__(self, http: httpx.AsyncClient, tokens: TokenSource) -> None:
        self._http = http
        self._tokens = tokens

    async def post(self, path: str, body: dict[str, Any], *, idempotency_key: str) -> CaseApiAnswer:
        """One write; the Idempotency-Key makes a retry after a lost answer get the first answer."""
        headers = {"authorization": f"Bearer {self._tokens.token()}", "idempotency-key": idempotency_key}
        try:
            response = await self._http.post(path, json=body, headers=headers)
        except httpx.HTTPError as error:
            raise CaseApiUnavailable(f"{type(error).__name__}: {error}") from None
        try:
            answer_body = response.json()
        except ValueError:
            answer_body = None
        return CaseApiAnswer(response.status_code, answer_body)
