"""Capacity: a per-instance cap on running turns, and many sessions running at once."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from graphql_api.api.ids import from_global_id
from graphql_api.app import create_app
from graphql_api.services import Services
from graphql_api.store.messages import messages_table
from graphql_api.store.turns import turns_table
from tests.agent.helpers import create_session, send, settle
from tests.conftest import GraphQLClient, make_settings


async def test_running_turn_cap_queues_the_rest_in_order(database_url, new_key):
    _, secret = await new_key()
    services = Services.create(make_settings(database_url, max_running_turns=2))
    await services.start()
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, len(services.runner.running))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services=services)), base_url="http://x") as http:
            client = GraphQLClient(http, secret)
            sids = [await create_session(client) for _ in range(5)]
            sent = [await send(client, sid, "!slow 5 0.05") for sid in sids]
            assert [s["turn"]["status"] for s in sent] == ["RUNNING", "RUNNING", "QUEUED", "QUEUED", "QUEUED"]
            finals = [await settle(client, sid) for sid in sids]
    finally:
        watcher.cancel()
        await services.close()
    assert peak == 2
    assert all(f["turns"]["edges"][0]["node"]["status"] == "COMPLETED" for f in finals)


async def test_fifty_sessions_at_once_store_every_message_gaplessly(graphql, new_key, services):
    _, secret = await new_key()
    client = graphql(secret)
    sids = await asyncio.gather(*(create_session(client) for _ in range(50)))
    await asyncio.gather(*(send(client, sid, "!many 6", ifBusy="ENQUEUE") for sid in sids))
    await asyncio.gather(*(send(client, sid, f"second {i}", ifBusy="ENQUEUE") for i, sid in enumerate(sids)))
    keys = [from_global_id(sid)[1] for sid in sids]

    async def unfinished() -> int:
        async with services.db.read() as conn:
            stmt = select(func.count()).where(
                turns_table.c.session_id.in_(keys), turns_table.c.status.in_(["QUEUED", "RUNNING"])
            )
            return int((await conn.execute(stmt)).scalar_one())

    deadline = asyncio.get_running_loop().time() + 120
    while await unfinished():
        assert asyncio.get_running_loop().time() < deadline, "turns did not finish"
        await asyncio.sleep(0.25)
    finals = [await settle(client, sid) for sid in sids]
    async with services.db.read() as conn:
        rows = (
            await conn.execute(
                select(messages_table.c.session_id, func.count(), func.min(messages_table.c.sequence), func.max(messages_table.c.sequence))
                .where(messages_table.c.session_id.in_(keys))
                .group_by(messages_table.c.session_id)
            )
        ).all()
    assert len(rows) == 50
    for session_id, count, low, high in rows:
        # prompt + 6 assistant blocks + result, then prompt + answer + result
        assert (count, low, high) == (11, 1, 11), session_id
    assert all({e["node"]["status"] for e in f["turns"]["edges"]} == {"COMPLETED"} for f in finals)


async def test_send_message_starts_its_own_turn_without_waiting_for_the_dispatcher(database_url, new_key):
    """An idle session's turn is claimed in sendMessage's own transaction: the request never
    waits while the dispatcher claims other sessions' queued turns (held here by its lock)."""
    _, secret = await new_key()
    services = Services.create(make_settings(database_url, max_running_turns=1))
    await services.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services=services)), base_url="http://x") as http:
            client = GraphQLClient(http, secret)
            first, second = await create_session(client), await create_session(client)
            async with services.runner._dispatching:  # a dispatcher busy elsewhere
                async with asyncio.timeout(10):
                    started = await send(client, first, "!slow 5 0.05")
                    queued = await send(client, second, "hello")  # no room left: it queues
            assert started["turn"]["status"] == "RUNNING"
            assert queued["turn"]["status"] == "QUEUED"
            assert [(await settle(client, sid))["turns"]["edges"][0]["node"]["status"] for sid in (first, second)] == ["COMPLETED", "COMPLETED"]
    finally:
        await services.close()
