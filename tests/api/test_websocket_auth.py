"""Websocket auth against a real uvicorn server: the key in connection_init, or the upgrade headers."""

from __future__ import annotations

import json

import pytest
import websockets

from tests.servers import running_server

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]


@pytest.fixture(scope="module")
def server(database_url):
    with running_server({"DATABASE_URL": database_url, "REDIS_URL": ""}) as server:
        yield server


async def _init(server, protocol: str, payload: dict, headers: dict | None = None):
    ws = await websockets.connect(
        server.ws_url, subprotocols=[protocol], additional_headers=headers or {}
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("style", ["authorization", "apiKey", "header"])
async def test_valid_key_is_acknowledged(server, new_key, protocol, style):
    _, secret = await new_key()
    payload = {"authorization": f"Bearer {secret}"} if style == "authorization" else {"apiKey": secret}
    headers = None
    if style == "header":
        payload, headers = {}, {"X-API-Key": secret}
    ws = await _init(server, protocol, payload, headers)
    try:
        reply = json.loads(await ws.recv())
        assert reply["type"] == "connection_ack"
    finally:
        await ws.close()


async def test_wrong_key_closes_with_4403(server):
    ws = await _init(server, "graphql-transport-ws", {"apiKey": "gak_wrong"})
    with pytest.raises(websockets.ConnectionClosed):
        await ws.recv()
    assert ws.close_code == 4403


async def test_missing_key_on_legacy_protocol_is_a_connection_error(server):
    ws = await _init(server, "graphql-ws", {})
    reply = json.loads(await ws.recv())
    assert reply["type"] == "connection_error"
    with pytest.raises(websockets.ConnectionClosed):
        await ws.recv()
