"""A service's client of another service's REST API, called with a service token that is kept in a file.

The token is read from its file at every call, so whatever writes the file (the deployment's client-credentials
sidecar, or the local stack in development and tests) can renew it without a restart. Service code never mints
tokens itself. A network error, a timeout or a missing token raises the client's `unavailable` error: the caller
keeps its work and tries again later. What the other service answered is the caller's to judge.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx


class ServiceUnavailable(Exception):
    """The other service could not be asked (network, timeout, no token): try again later."""


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
            raise ServiceUnavailable(f"no service token at {self.path}: {error.strerror}") from None
        if not token:
            raise ServiceUnavailable(f"the service token file {self.path} is empty")
        return token


@dataclass(frozen=True)
class ServiceAnswer:
    """What the other service answered: its status and its JSON body (None when the body is not JSON)."""

    status_code: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


class ServiceClient:
    """Calls one service's API over `http` (its base URL and timeout set there) with a bearer token of `tokens`.

    Subclasses name their own `unavailable` error, so their callers catch what is theirs."""

    unavailable: ClassVar[type[ServiceUnavailable]] = ServiceUnavailable

    def __init__(self, http: httpx.AsyncClient, tokens: TokenSource) -> None:
        self._http = http
        self._tokens = tokens

    async def request(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> ServiceAnswer:
        try:
            token = self._tokens.token()
        except ServiceUnavailable as error:
            raise self.unavailable(str(error)) from None
        sent = {"authorization": f"Bearer {token}", "accept": "application/json", **(headers or {})}
        try:
            response = await self._http.request(method, path, json=json, headers=sent)
        except httpx.HTTPError as error:
            raise self.unavailable(f"{type(error).__name__}: {error}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        return ServiceAnswer(response.status_code, body)
