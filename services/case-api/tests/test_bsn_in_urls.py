"""URLs never carry a BSN, and logs never hold query values (issue 11, R15): a BSN-shaped query value is refused
with 400 problem details naming the parameter (service_kit.query), and the access log writes a request's path
without its query (service_kit.logs)."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest

from devinfra.ports import free_port

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
BSN = "111222333"  # made up; passes the eleven-test


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        (f"postcode={BSN}", "postcode"),  # passes the eleven-test
        ("postcode=123456789", "postcode"),  # any 9 digits
        ("limit=5&q=111.222.333", "q"),  # grouped as people write it
        ("q=111%20222%20333", "q"),
        (BSN, "query"),  # a bare value is a parameter's name
    ],
)
async def test_a_bsn_shaped_query_value_is_refused_naming_the_parameter(
    case_api_client: Client, query: str, parameter: str
) -> None:
    async with case_api_client() as client:
        answer = await client.get(f"/v1/cases?{query}")
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == parameter
    assert "111" not in answer.json()["detail"]
    assert "123456789" not in answer.text


async def test_ids_and_integer_cursors_pass(case_api_client: Client) -> None:
    async with case_api_client(roles=("admin",), team=None) as admin:
        log = await admin.get("/v1/processing-log", params={"after": BSN, "limit": 1})  # an integer cursor
        cases = await admin.get("/v1/cases", params={"limit": 5})
    assert log.status_code == 200, log.text
    assert cases.status_code == 200, cases.text


def test_the_access_log_writes_no_query_value(tmp_path: Path, sqlite_url: str) -> None:
    port = free_port()
    env = {**os.environ, "CASE_API_DATABASE_URL": sqlite_url, "CASE_API_LOG_LEVEL": "INFO"}
    log_path = tmp_path / "case-api.log"
    with log_path.open("wb") as log:
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "case_api.main:create_app", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120  # a busy machine starts uvicorn slowly
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            refused = httpx.get(f"http://127.0.0.1:{port}/v1/cases?postcode={BSN}", timeout=5)
            unauthenticated = httpx.get(f"http://127.0.0.1:{port}/v1/cases?surname=Testhuis&limit=5", timeout=5)
        finally:
            api.terminate()
            api.wait(10)
    assert (refused.status_code, unauthenticated.status_code) == (400, 401)
    text = log_path.read_text()
    access = [entry["message"] for entry in map(json.loads, text.splitlines()) if entry["logger"] == "uvicorn.access"]
    assert [line.split(" - ", 1)[1] for line in access if "/v1/cases" in line] == [
        '"GET /v1/cases?… HTTP/1.1" 400',
        '"GET /v1/cases?… HTTP/1.1" 401',
    ], text
    assert BSN not in text
    assert "Testhuis" not in text
