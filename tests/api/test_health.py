"""Liveness and readiness: /readyz says 503 when the database does not answer, without details."""

from __future__ import annotations

import httpx

from graphql_api.app import create_app
from graphql_api.services import Services
from tests.conftest import make_settings


async def test_healthz_and_readyz(http):
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


async def test_readyz_503_when_database_is_down():
    services = Services.create(
        make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/nothing")
    )
    app = create_app(services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/readyz")
    await services.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "unavailable"}}


async def test_graphiql_in_a_browser(http):
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
