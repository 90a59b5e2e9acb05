"""The embedded default: the in-process broker, so the app runs in this test process (uvicorn on
a real port) and the test publishes through the app's own broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn

from graphql_api.app import create_app
from graphql_api.broker import InProcessBroker
from graphql_api.domain import events as ev
from graphql_api.services import Services
from tests.live import (
    PROBE,
    PROTOCOLS,
    UPDATES,
    Stream,
    add_message,
    append_message,
    create_session,
    events_of,
    gid,
    wait_until_live,
    ws_client,
)
from tests.servers import free_port


@pytest.fixture(scope="module")
async def ws_url(services: Services) -> AsyncIterator[str]:
    """The test run's shared services behind a real uvicorn; lifespan off, so stopping this
    server does not close the services other tests use."""
    assert isinstance(services.broker, InProcessBroker)
    port = free_port()
    config = uvicorn.Config(create_app(services=services), host="127.0.0.1", port=port,
                            lifespan="off", log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{port}/graphql"
    server.should_exit = True
    await task


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_replay_then_live_through_the_in_process_broker(ws_url, services, new_key, protocol):
    key_id, secret = await new_key()
    db, broker = services.db, services.broker
    session = await create_session(db, key_id)
    await append_message(db, session.id, "stored")
    async with ws_client(ws_url, secret, protocol) as ws:
        stream = events_of(ws, session.id, after=0)
        assert (await stream.next())["message"]["sequence"] == 1
        await add_message(db, broker, session.id, "live")
        await broker.publish(ev.session_channel(session.id), ev.event(
            ev.SESSION_STATUS_CHANGED, session.id, 2, status="IDLE"))  # fmt: skip
        events = await stream.take(2)
    assert [(e["__typename"], e["sequence"]) for e in events] == [
        ("MessageAdded", 2),
        ("SessionStatusChanged", 2),
    ]


async def test_session_updates_through_the_in_process_broker(ws_url, services, new_key):
    key_id, secret = await new_key()
    session = await create_session(services.db, key_id, title="mine")
    probe = await create_session(services.db, key_id, title=PROBE)
    broker = services.broker

    async def changed(row, status: str) -> None:
        event = ev.event(ev.SESSION_STATUS_CHANGED, row.id, 0, status=status,
                         session={**ev.row_to_json(row), "status": status})  # fmt: skip
        await broker.publish(ev.owner_channel(key_id), event)

    async with ws_client(ws_url, secret, "graphql-transport-ws") as ws:
        updates = Stream(ws, UPDATES, {})
        await wait_until_live(updates, lambda: changed(probe, "IDLE"))
        await changed(session, "RUNNING")
        assert await updates.next() == {
            "id": gid("Session", session.id),
            "title": "mine",
            "status": "RUNNING",
        }
