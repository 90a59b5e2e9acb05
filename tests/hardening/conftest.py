"""Fixtures for the hardening tests: apps with their own settings over the shared database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from graphql_api.app import create_app
from graphql_api.services import Services
from tests.conftest import GraphQLClient, make_settings


async def one_window_ahead(seconds: int, needed: float) -> None:
    """Make sure the next `needed` seconds fall in one window of a sliding window counter.

    The read budget's counter has windows aligned on the clock and weighs the previous window's
    hits by how much of it still overlaps the last `seconds`: hits straddling a boundary
    legitimately leave room for one more than a test filling the budget expects. When less than
    `needed` seconds are left in the current window, wait for the next one.
    """
    left = seconds - time.time() % seconds
    if left < needed:
        await asyncio.sleep(left + 0.01)


class App:
    """An app over `services` with its own settings (not started: requests only)."""

    def __init__(self, services: Services, http: httpx.AsyncClient) -> None:
        self.services = services
        self.http = http

    def client(self, secret: str | None = None) -> GraphQLClient:
        return GraphQLClient(self.http, secret)


@pytest.fixture
async def app_with(database_url: str) -> AsyncIterator[Any]:
    """A factory: await app_with(**setting overrides) -> App."""
    made: list[App] = []

    async def make(**overrides: Any) -> App:
        overrides.setdefault("rate_limit_enabled", True)  # the shared test settings turn it off
        services = Services.create(make_settings(database_url, **overrides))
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(services=services)), base_url="http://test"
        )
        made.append(App(services, http))
        return made[-1]

    yield make
    for app in made:
        await app.http.aclose()
        await app.services.close()


def code_of(error: dict[str, Any]) -> str:
    return error.get("extensions", {}).get("code", "")


# ----------------------------------------------------------------- graphql-transport-ws, raw


async def acknowledged(server: Any, secret: str) -> Any:
    """A graphql-transport-ws connection to `server`, initialised with `secret`."""
    ws = await websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"])
    await send(ws, {"type": "connection_init", "payload": {"apiKey": secret}})
    assert (await receive(ws))["type"] == "connection_ack"
    return ws


async def send(ws: Any, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: Any, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))
