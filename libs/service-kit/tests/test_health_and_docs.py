"""Health probes tell an orchestrator the truth, and /docs works on a network without internet."""

import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from fastapi import FastAPI

from devinfra.ports import free_port
from service_kit.app import create_service_app
from service_kit.settings import ServiceSettings

Serve = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]


def build(settings: ServiceSettings) -> FastAPI:
    return create_service_app(settings=settings, title="kit test", description="probes", routers=[])


async def test_live_answers_200_without_any_infrastructure(
    kit_settings: Callable[..., ServiceSettings], client_of: Serve
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    async with client_of(build(kit_settings(kafka_bootstrap_servers=closed))) as client:
        response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.kafka
@pytest.mark.postgres
async def test_ready_answers_200_with_a_reachable_database_and_broker(
    kit_settings: Callable[..., ServiceSettings],
    client_of: Serve,
    kafka_bootstrap: str,
    postgres_url_factory: Callable[[str], str],
) -> None:
    settings = kit_settings(database_url=postgres_url_factory("kit_ready"), kafka_bootstrap_servers=kafka_bootstrap)
    async with client_of(build(settings)) as client:
        response = await client.get("/health/ready")

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "checks": {"database": True, "kafka": True}}


async def test_ready_answers_503_naming_kafka_when_the_broker_is_unreachable(
    kit_settings: Callable[..., ServiceSettings], client_of: Serve
) -> None:
    settings = kit_settings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    async with client_of(build(settings)) as client:
        response = await client.get("/health/ready")

    assert response.status_code == 503, response.text
    assert response.json() == {"status": "unavailable", "checks": {"database": True, "kafka": False}}


@pytest.mark.kafka
async def test_ready_answers_503_naming_the_database_when_it_is_unreachable(
    kit_settings: Callable[..., ServiceSettings], client_of: Serve, kafka_bootstrap: str
) -> None:
    settings = kit_settings(
        database_url=f"postgresql+asyncpg://nobody:nothing@127.0.0.1:{free_port()}/nowhere",
        kafka_bootstrap_servers=kafka_bootstrap,
    )
    async with client_of(build(settings)) as client:
        response = await client.get("/health/ready")

    assert response.status_code == 503, response.text
    assert response.json() == {"status": "unavailable", "checks": {"database": False, "kafka": True}}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_load_their_scripts_and_styles_from_the_service_itself(
    page: str, kit_settings: Callable[..., ServiceSettings], client_of: Serve
) -> None:
    async with client_of(build(kit_settings())) as client:
        response = await client.get(page)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        html = response.text
        assets = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", html)

        assert any(asset.endswith(".js") for asset in assets), html
        # No CDN: municipal networks are often closed, so no asset may live on another host.
        assert not re.search(r"""(?:src|href|url)\s*[=:(]\s*["']?(?:https?:)?//""", html), html
        for asset in assets:
            assert asset.startswith("/"), asset
            fetched = await client.get(asset)
            assert fetched.status_code == 200, asset
            assert fetched.content, asset

        spec = re.search(r"""(?:url: |spec-url=)['"]([^'"]+)['"]""", html)
        assert spec is not None
        assert (await client.get(spec.group(1))).json()["info"]["title"] == "kit test"
