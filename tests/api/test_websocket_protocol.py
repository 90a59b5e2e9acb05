"""The websocket protocols' rules against a real server: close codes of graphql-transport-ws
(4400, 4401, 4403, 4406, 4408, 4409, 4429), graphql-ws keep-alive, and the subscription caps
per connection and per API key (RATE_LIMITED)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from tests.live import PROTOCOLS, Stream, append_message, create_session, gid, ws_client
from tests.servers import ServerProcess, running_server

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
QUERY = "subscription($id: ID!) { sessionEvents(sessionId: $id, afterSequence: 0) { sequence } }"


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[ServerProcess]:
    """In-process broker (no Redis needed), short timers and small caps."""
    env = {
        "DATABASE_URL": database_url, "REDIS_URL": "", "AGENT_BACKEND": "demo",
        "WS_CONNECTION_INIT_TIMEOUT_SECONDS": "0.5", "WS_KEEP_ALIVE_SECONDS": "0.2",
        "SUBSCRIPTIONS_PER_CONNECTION": "2", "SUBSCRIPTIONS_PER_KEY": "3", "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    with running_server(env) as server:
        yield server


async def connect(server: ServerProcess, protocol: str = TRANSPORT_WS) -> Any:
    return await websockets.connect(server.ws_url, subprotocols=[protocol])


async def send(ws: Any, message: dict[str, Any] | str) -> None:
    await ws.send(message if isinstance(message, str) else json.dumps(message))


async def receive(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def closed_with(ws: Any, timeout: float = 5.0) -> tuple[int | None, str | None]:
    """Reads until the server closes; (code, reason)."""
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return ws.close_code, ws.close_reason


async def acknowledged(server: ServerProcess, secret: str, protocol: str = TRANSPORT_WS) -> Any:
    ws = await connect(server, protocol)
    await send(ws, {"type": "connection_init", "payload": {"apiKey": secret}})
    assert (await receive(ws))["type"] == "connection_ack"
    return ws


def subscribe(op_id: str, session_id: Any) -> dict[str, Any]:
    payload = {"query": QUERY, "variables": {"id": gid("Session", session_id)}}
    return {"id": op_id, "type": "subscribe", "payload": payload}


@pytest.fixture
async def owned(services, new_key):
    """(secret, session id) of a fresh key's session holding one message."""
    key_id, secret = await new_key()
    session = await create_session(services.db, key_id)
    await append_message(services.db, session.id, "hello")
    return secret, session.id


# ---------------------------------------------------------------- graphql-transport-ws closes


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("not json", "WebSocket message must be valid JSON"),
        (
            {"type": "connection_init", "payload": "not an object"},
            "Invalid connection init payload",
        ),
        ({"type": "no_such_type"}, "Unknown message type: no_such_type"),
    ],
)
async def test_malformed_messages_close_with_4400(server, message, reason):
    ws = await connect(server)
    await send(ws, message)
    assert await closed_with(ws) == (4400, reason)


async def test_a_subscription_that_does_not_parse_closes_with_4400(server, owned):
    ws = await acknowledged(server, owned[0])
    await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": "subscription {"}})
    code, reason = await closed_with(ws)
    assert code == 4400 and reason.startswith("Syntax Error")


async def test_an_invalid_subscription_is_an_error_with_a_code(server, owned):
    """Not a protocol violation: the operation fails, the connection stays."""
    ws = await acknowledged(server, owned[0])
    await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": "subscription { nope }"}})
    message = await receive(ws)
    assert (message["type"], message["id"]) == ("error", "1")
    assert message["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    await send(ws, subscribe("2", owned[1]))
    assert (await receive(ws))["type"] == "next"
    await ws.close()


async def test_subscribing_before_connection_init_closes_with_4401(server, owned):
    ws = await connect(server)
    await send(ws, subscribe("1", owned[1]))
    assert await closed_with(ws) == (4401, "Unauthorized")


async def test_a_wrong_key_closes_with_4403(server):
    ws = await connect(server)
    await send(ws, {"type": "connection_init", "payload": {"authorization": "Bearer gak_nope"}})
    assert await closed_with(ws) == (4403, "Forbidden")


async def test_an_unknown_subprotocol_closes_with_4406(server):
    ws = await websockets.connect(server.ws_url, subprotocols=["nonsense"])
    assert await closed_with(ws) == (4406, "Subprotocol not acceptable")


async def test_no_connection_init_in_time_closes_with_4408(server):
    ws = await connect(server)
    code, reason = await closed_with(ws, timeout=5)
    assert (code, reason) == (4408, "Connection initialisation timeout")


async def test_a_duplicate_subscription_id_closes_with_4409(server, owned):
    secret, session_id = owned
    ws = await acknowledged(server, secret)
    await send(ws, subscribe("same", session_id))
    assert (await receive(ws))["type"] == "next"  # the stored message: the first one is live
    await send(ws, subscribe("same", session_id))
    assert await closed_with(ws) == (4409, "Subscriber for same already exists")


async def test_a_second_connection_init_closes_with_4429(server, owned):
    ws = await acknowledged(server, owned[0])
    await send(ws, {"type": "connection_init", "payload": {"apiKey": owned[0]}})
    assert await closed_with(ws) == (4429, "Too many initialisation requests")


# ---------------------------------------------------------------- graphql-ws (legacy)


async def test_legacy_protocol_starting_before_init_closes_with_4401(server, owned):
    ws = await connect(server, LEGACY_WS)
    await send(ws, {"id": "1", "type": "start", "payload": {"query": QUERY}})
    assert (await closed_with(ws))[0] == 4401


async def test_legacy_protocol_sends_keep_alives(server, owned):
    ws = await acknowledged(server, owned[0], LEGACY_WS)
    loop = asyncio.get_running_loop()
    started = loop.time()
    kinds = [(await receive(ws, timeout=2))["type"] for _ in range(4)]
    assert kinds == ["ka"] * 4
    assert loop.time() - started < 1.5  # every 0.2s as configured, not the 15s default
    await ws.close()


async def test_legacy_protocol_streams_events_and_stops(server, owned):
    secret, session_id = owned
    ws = await acknowledged(server, secret, LEGACY_WS)
    payload = {"query": QUERY, "variables": {"id": gid("Session", session_id)}}
    await send(ws, {"id": "1", "type": "start", "payload": payload})
    message = await receive(ws)
    while message["type"] == "ka":
        message = await receive(ws)
    assert message == {
        "type": "data",
        "id": "1",
        "payload": {"data": {"sessionEvents": {"sequence": 1}}},
    }
    await send(ws, {"id": "1", "type": "stop"})
    message = await receive(ws)
    while message["type"] == "ka":
        message = await receive(ws)
    assert message == {"type": "complete", "id": "1"}
    await ws.close()


# ---------------------------------------------------------------- caps


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscriptions_past_the_connection_cap_are_rate_limited(server, owned, protocol):
    secret, session_id = owned
    variables = {"id": gid("Session", session_id)}
    async with ws_client(server.ws_url, secret, protocol) as ws:
        held = [Stream(ws, QUERY, variables) for _ in range(2)]
        for stream in held:
            assert await stream.next() == {"sequence": 1}
        error = await Stream(ws, QUERY, variables).error()
        assert error["extensions"] == {"code": "RATE_LIMITED", "limit": 2, "scope": "connection"}
        await held[0].close()
        await asyncio.sleep(0.1)  # the server ends it once the client's complete/stop arrives
        again = Stream(ws, QUERY, variables)
        assert await again.next() == {"sequence": 1}


async def test_subscriptions_past_the_key_cap_are_rate_limited(server, owned):
    secret, session_id = owned
    variables = {"id": gid("Session", session_id)}
    async with (
        ws_client(server.ws_url, secret, TRANSPORT_WS) as first,
        ws_client(server.ws_url, secret, LEGACY_WS) as second,
    ):
        held = [
            Stream(first, QUERY, variables),
            Stream(first, QUERY, variables),
            Stream(second, QUERY, variables),
        ]
        for stream in held:
            assert await stream.next() == {"sequence": 1}
        error = await Stream(second, QUERY, variables).error()
        assert error["extensions"] == {"code": "RATE_LIMITED", "limit": 3, "scope": "apiKey"}
    # Both connections are gone: their slots are free again.
    async with ws_client(server.ws_url, secret, TRANSPORT_WS) as third:
        assert await Stream(third, QUERY, variables).next() == {"sequence": 1}
