"""A subscriber that stops reading: the server's memory stays bounded, other subscribers are not
held up, and the stalled one ends with SLOW_CONSUMER and the lastSequence to resume from."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import websockets

from graphql_api.broker.redis import RedisBroker
from tests.live import (
    REDIS_URL,
    add_message,
    append_message,
    create_session,
    events_of,
    gid,
    ws_client,
)
from tests.servers import ServerProcess, running_server

QUEUE_SIZE = 20
MESSAGES = 400
TEXT_BYTES = 64 * 1024  # 400 messages of 64 KiB: 25 MiB that a stalled client never takes
QUERY = """subscription($id: ID!) { sessionEvents(sessionId: $id, afterSequence: 0) {
  sequence ... on MessageAdded { message { sequence content { ... on TextBlock { text } } } } } }"""


@pytest.fixture(scope="module")
def server(database_url: str, prefix: str) -> Iterator[ServerProcess]:
    env = {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "REDIS_CHANNEL_PREFIX": prefix,
           "SUBSCRIPTION_QUEUE_SIZE": str(QUEUE_SIZE), "AGENT_BACKEND": "demo", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with running_server(env) as server:
        yield server


@pytest.fixture(scope="module")
async def publisher(prefix: str) -> AsyncIterator[RedisBroker]:
    broker = RedisBroker(REDIS_URL, channel_prefix=prefix)
    await broker.start()
    yield broker
    await broker.stop()


def incompressible_text() -> str:
    """Random text: permessage-deflate would shrink repetitive text to almost nothing."""
    return base64.b64encode(os.urandom(TEXT_BYTES * 3 // 4)).decode()


def peak_rss_kib(server: ServerProcess) -> int:
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def receive(ws, timeout: float = 10.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_a_stalled_subscriber_is_cut_off_with_bounded_memory_and_resumes(
    server, publisher, services, new_key
):
    key_id, secret = await new_key()
    db = services.db
    session = await create_session(db, key_id)
    await append_message(db, session.id, "first")
    variables = {"id": gid("Session", session.id)}

    # The stalled client: takes the first message, then reads nothing (its library stops
    # reading the socket after one frame), so the server's sends block. A small receive buffer
    # keeps the kernel from absorbing the test's megabytes first (loopback autotuning lets a
    # socket buffer up to tcp_rmem's maximum, 32 MiB here).
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    stalled = await websockets.connect(
        server.ws_url, sock=sock, subprotocols=["graphql-transport-ws"],
        max_queue=1, max_size=None, compression=None,
    )  # fmt: skip
    await stalled.send(json.dumps({"type": "connection_init", "payload": {"apiKey": secret}}))
    assert (await receive(stalled))["type"] == "connection_ack"
    await stalled.send(
        json.dumps(
            {"id": "slow", "type": "subscribe", "payload": {"query": QUERY, "variables": variables}}
        )
    )
    assert (await receive(stalled))["payload"]["data"]["sessionEvents"]["sequence"] == 1

    async with ws_client(server.ws_url, secret, "graphql-ws") as ws:
        fast = events_of(ws, session.id, after=0)
        assert (await fast.next())["message"]["sequence"] == 1
        peak_before = peak_rss_kib(server)
        loop = asyncio.get_running_loop()
        published_at: dict[int, float] = {}

        async def writer() -> None:
            for _ in range(MESSAGES):
                row = await add_message(db, publisher, session.id, incompressible_text())
                published_at[row.sequence] = loop.time()

        task = asyncio.create_task(writer())
        lags = []
        for sequence in range(2, MESSAGES + 2):
            event = await fast.next(timeout=20)
            assert event["message"]["sequence"] == sequence
            lags.append(loop.time() - published_at.get(sequence, loop.time()))
        await task
        growth_mib = (peak_rss_kib(server) - peak_before) / 1024

    published_mib = MESSAGES * TEXT_BYTES / 2**20
    print(f"\npublished {published_mib:.0f} MiB; server peak RSS grew {growth_mib:.1f} MiB; "
          f"fast subscriber lag max {max(lags) * 1000:.0f} ms")  # fmt: skip
    assert growth_mib < published_mib / 3, "the stalled subscriber's events piled up in memory"
    assert max(lags) < 5, "the stalled subscriber held up the others"

    # The stalled client reads again: what was already on its way, then SLOW_CONSUMER.
    received = [1]
    while True:
        message = await receive(stalled)
        assert message["type"] == "next", message
        payload = message["payload"]
        if payload.get("errors"):
            error = payload["errors"][0]
            break
        received.append(payload["data"]["sessionEvents"]["message"]["sequence"])
    assert error["extensions"] == {"code": "SLOW_CONSUMER", "lastSequence": received[-1]}
    assert (await receive(stalled))["type"] == "complete"
    assert received == list(range(1, received[-1] + 1)) and received[-1] < MESSAGES + 1
    await stalled.close()

    # ...and resumes from lastSequence with nothing lost and nothing twice.
    async with ws_client(server.ws_url, secret, "graphql-transport-ws") as ws:
        resumed = events_of(ws, session.id, after=error["extensions"]["lastSequence"])
        while received[-1] < MESSAGES + 1:
            received.append((await resumed.next(timeout=20))["message"]["sequence"])
    assert received == list(range(1, MESSAGES + 2))
