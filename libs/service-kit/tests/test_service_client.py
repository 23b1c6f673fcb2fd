"""A service's client of another service: the token read from its file at every call, sent as a bearer token
over a real HTTP connection; a missing token, a closed port or a timeout is `unavailable`, never an answer."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from devinfra.ports import free_port
from service_kit.service_client import ServiceAnswer, ServiceClient, ServiceUnavailable, TokenFile


class PeerUnavailable(ServiceUnavailable):
    """What a service's own client raises, so its callers catch what is theirs."""


class PeerClient(ServiceClient):
    unavailable = PeerUnavailable


def peer_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/echo")
    async def echo(request: Request) -> dict[str, Any]:
        return {
            "authorization": request.headers.get("authorization"),
            "idempotency_key": request.headers.get("idempotency-key"),
            "body": await request.json(),
        }

    @app.get("/v1/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("not json", status_code=503)

    @app.get("/v1/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(2)
        return {"late": "yes"}

    return app


@pytest.fixture
async def peer_url() -> AsyncIterator[str]:
    """The peer as a real HTTP server on a free loopback port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(peer_app(), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_token_is_read_from_its_file_at_every_call(peer_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "peer.token"
    token_file.write_text("first-token\n")
    async with httpx.AsyncClient(base_url=peer_url, timeout=5) as http:
        client = PeerClient(http, TokenFile(token_file))
        first = await client.request("POST", "/v1/echo", json={"n": 1}, headers={"idempotency-key": "k-1"})
        token_file.write_text("renewed-token\n")  # the sidecar renewed it: no restart needed
        second = await client.request("POST", "/v1/echo", json={"n": 2})

    assert first == ServiceAnswer(
        200, {"authorization": "Bearer first-token", "idempotency_key": "k-1", "body": {"n": 1}}
    )
    assert first.ok
    assert second.body["authorization"] == "Bearer renewed-token"
    assert second.body["idempotency_key"] is None


async def test_an_answer_that_is_not_json_keeps_its_status_with_no_body(peer_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "peer.token"
    token_file.write_text("t")
    async with httpx.AsyncClient(base_url=peer_url, timeout=5) as http:
        answer = await PeerClient(http, TokenFile(token_file)).request("GET", "/v1/text")
    assert answer == ServiceAnswer(503, None)
    assert not answer.ok


@pytest.mark.parametrize("content", [None, "", "  \n"], ids=["missing", "empty", "blank"])
async def test_no_token_is_unavailable_and_nothing_is_sent(peer_url: str, tmp_path: Path, content: str | None) -> None:
    token_file = tmp_path / "peer.token"
    if content is not None:
        token_file.write_text(content)
    sent: list[httpx.Request] = []
    async with httpx.AsyncClient(
        base_url=peer_url, event_hooks={"request": [lambda request: _note(sent, request)]}
    ) as http:
        with pytest.raises(PeerUnavailable, match=str(token_file)):
            await PeerClient(http, TokenFile(token_file)).request("GET", "/v1/text")
    assert sent == []


async def _note(sent: list[httpx.Request], request: httpx.Request) -> None:
    sent.append(request)


async def test_a_closed_port_and_a_timeout_are_unavailable(peer_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "peer.token"
    token_file.write_text("t")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}", timeout=5) as http:
        with pytest.raises(PeerUnavailable, match="ConnectError"):
            await PeerClient(http, TokenFile(token_file)).request("GET", "/v1/text")
    async with httpx.AsyncClient(base_url=peer_url, timeout=0.2) as http:
        with pytest.raises(PeerUnavailable, match="Timeout"):
            await PeerClient(http, TokenFile(token_file)).request("GET", "/v1/slow")
