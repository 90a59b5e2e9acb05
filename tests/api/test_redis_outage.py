"""Redis goes away mid-stream (this test's own redis-server, killed and restarted): live
subscriptions end with BROKER_UNAVAILABLE and their lastSequence, /readyz reports it, and once
Redis is back a resumed subscription has every message, including those stored meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from graphql_api.broker.redis import RedisBroker
from tests.live import (
    PROTOCOLS,
    add_message,
    append_message,
    create_session,
    events_of,
    ws_client,
)
from tests.redis_server import RedisServer
from tests.servers import ServerProcess, running_server


@pytest.fixture(scope="module")
def server(database_url: str, redis_server: RedisServer, prefix: str) -> Iterator[ServerProcess]:
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_server.url,
           "REDIS_CHANNEL_PREFIX": prefix, "AGENT_BACKEND": "demo", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with running_server(env) as server:
        yield server


async def readiness(server: ServerProcess) -> tuple[int, dict]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        response = await http.get("/readyz")
    return response.status_code, response.json()


async def wait_ready(server: ServerProcess, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await readiness(server))[0] != 200:
        assert asyncio.get_running_loop().time() < deadline, "the server did not get ready again"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_streams_end_with_broker_unavailable_and_resume_once_redis_is_back(
    server, redis_server, prefix, services, new_key, protocol
):
    await wait_ready(server)
    publisher = RedisBroker(redis_server.url, channel_prefix=prefix, subscribe_timeout=1)
    await publisher.start()
    key_id, secret = await new_key()
    db = services.db
    session = await create_session(db, key_id)
    await append_message(db, session.id, "stored 1")
    try:
        async with ws_client(server.ws_url, secret, protocol) as ws:
            stream = events_of(ws, session.id, after=0)
            assert (await stream.next())["message"]["sequence"] == 1
            await add_message(db, publisher, session.id, "live 2")
            assert (await stream.next())["message"]["sequence"] == 2

            redis_server.stop()
            error = await stream.error()
            assert error["extensions"] == {"code": "BROKER_UNAVAILABLE", "lastSequence": 2}
            status, body = await readiness(server)
            assert (status, body["checks"]["redis"]) == (503, "unavailable")

        # Turns go on storing messages while Redis is down.
        await append_message(db, session.id, "stored 3 while Redis was down")
        await append_message(db, session.id, "stored 4 while Redis was down")

        redis_server.start()
        await wait_ready(server)
        async with ws_client(server.ws_url, secret, protocol) as ws:
            stream = events_of(ws, session.id, after=error["extensions"]["lastSequence"])
            assert [e["message"]["sequence"] for e in await stream.take(2)] == [3, 4]
            await asyncio.wait_for(_publish_when_up(publisher, db, session.id), 10)
            assert (await stream.next())["message"]["sequence"] == 5
    finally:
        await publisher.stop()


async def _publish_when_up(publisher: RedisBroker, db, session_id) -> None:
    """The test's own publisher reconnects in the background too."""
    while True:
        try:
            await publisher.ping()
        except Exception:  # noqa: BLE001
            await asyncio.sleep(0.05)
            continue
        await add_message(db, publisher, session_id, "live 5")
        return
