"""sessionEvents and sessionUpdates against a real server over Redis, on both websocket
subprotocols: event shapes and order, lossless replay and resume, tenancy, fresh rows."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from sqlalchemy import update

from graphql_api.broker.redis import RedisBroker
from graphql_api.domain import events as ev
from graphql_api.store.models import Session as SessionModel
from graphql_api.store.types import new_id
from tests.live import (
    PROBE,
    PROTOCOLS,
    REDIS_URL,
    UPDATES,
    Stream,
    add_message,
    append_message,
    create_approval,
    create_session,
    create_turn,
    events_of,
    gid,
    live_events,
    message_event,
    wait_until_live,
    ws_client,
)
from tests.servers import ServerProcess, running_server


@pytest.fixture(scope="module")
def server(database_url: str, prefix: str) -> Iterator[ServerProcess]:
    env = {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "REDIS_CHANNEL_PREFIX": prefix,
           "AGENT_BACKEND": "demo", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with running_server(env) as server:
        yield server


@pytest.fixture(scope="module")
async def publisher(prefix: str) -> AsyncIterator[RedisBroker]:
    """What another instance's runner publishes through."""
    broker = RedisBroker(REDIS_URL, channel_prefix=prefix)
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
async def owner(new_key):
    return await new_key()


def publish(publisher: RedisBroker, session_id, type_: str, sequence: int, **fields):
    return publisher.publish(
        ev.session_channel(session_id), ev.event(type_, session_id, sequence, **fields)
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_events_arrive_in_order_with_the_contract_shapes(
    server, publisher, services, owner, protocol
):
    key_id, secret = owner
    db = services.db
    session = await create_session(db, key_id)
    turn = await create_turn(db, session.id)
    approval = await create_approval(db, session.id, turn.id)
    async with ws_client(server.ws_url, secret, protocol) as ws:
        stream = await live_events(ws, publisher, session.id)
        await publish(publisher, session.id, ev.TURN_STARTED, 0, turn=ev.row_to_json(turn))
        await publish(publisher, session.id, ev.SESSION_STATUS_CHANGED, 0, status="RUNNING")
        message = await add_message(db, publisher, session.id, "Hello")
        for piece in ("Hel", "lo"):
            await publish(publisher, session.id, ev.TEXT_DELTA, 1, turn_id=str(turn.id), text=piece)
        await publish(
            publisher, session.id, ev.TOOL_APPROVAL_REQUESTED, 1, approval=ev.row_to_json(approval)
        )
        finished = {**ev.row_to_json(turn), "status": "COMPLETED", "result": "done"}
        await publish(publisher, session.id, ev.TURN_FINISHED, 1, turn=finished)
        await publish(publisher, session.id, ev.SESSION_STATUS_CHANGED, 1, status="IDLE")
        events = await stream.take(8)

    session_gid, turn_gid = gid("Session", session.id), gid("Turn", turn.id)
    assert all(e["sessionId"] == session_gid for e in events)
    assert [(e["__typename"], e["sequence"]) for e in events] == [
        ("TurnStarted", 0), ("SessionStatusChanged", 0), ("MessageAdded", 1), ("TextDelta", 1),
        ("TextDelta", 1), ("ToolApprovalRequested", 1), ("TurnFinished", 1),
        ("SessionStatusChanged", 1),
    ]  # fmt: skip
    assert events[0]["turn"] == {"id": turn_gid, "status": "RUNNING"}
    assert events[1]["status"] == "RUNNING" and events[7]["status"] == "IDLE"
    assert events[2]["message"] == {
        "id": gid("Message", message.id), "sequence": 1, "role": "ASSISTANT", "content": [{"text": "Hello"}]
    }  # fmt: skip
    assert [(e["turnId"], e["text"]) for e in events[3:5]] == [(turn_gid, "Hel"), (turn_gid, "lo")]
    assert events[5]["approval"] == {
        "id": gid("ToolApproval", approval.id), "toolName": "Bash", "status": "PENDING",
        "input": {"command": "ls"}, "turn": {"id": turn_gid}, "session": {"id": session_gid},
    }  # fmt: skip
    assert events[6]["turn"] == {"id": turn_gid, "status": "COMPLETED", "result": "done"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_after_sequence_replays_stored_messages_then_goes_live_without_duplicates(
    server, publisher, services, owner, protocol
):
    key_id, secret = owner
    db = services.db
    session = await create_session(db, key_id)
    stored = [await append_message(db, session.id, f"m{n}") for n in range(1, 6)]
    async with ws_client(server.ws_url, secret, protocol) as ws:
        stream = events_of(ws, session.id, after=2)
        replayed = await stream.take(3)
        assert [e["message"]["sequence"] for e in replayed] == [3, 4, 5]
        assert [e["sequence"] for e in replayed] == [3, 4, 5]
        await publisher.publish(ev.session_channel(session.id), message_event(stored[-1]))  # again
        await add_message(db, publisher, session.id, "m6")
        await publish(publisher, session.id, ev.TURN_FINISHED, 6, turn=ev.row_to_json(
            await create_turn(db, session.id, status="COMPLETED")))  # fmt: skip
        live = await stream.take(2)
        assert [(e["__typename"], e["sequence"]) for e in live] == [
            ("MessageAdded", 6),
            ("TurnFinished", 6),
        ]
        assert stream.pending() == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_closed_connection_gives_its_redis_subscription_back(
    server, publisher, prefix, services, owner, protocol
):
    key_id, secret = owner
    session = await create_session(services.db, key_id)
    channel = (prefix + ev.session_channel(session.id)).encode()
    probe = aioredis.from_url(REDIS_URL)

    async def server_subscriptions() -> int:
        return dict(await probe.pubsub_numsub(channel))[channel]

    try:
        async with ws_client(server.ws_url, secret, protocol) as ws:
            await live_events(ws, publisher, session.id)
            await live_events(ws, publisher, session.id)
            assert await server_subscriptions() == 1  # two subscribers, one Redis subscription
        for _ in range(250):
            if await server_subscriptions() == 0:
                break
            await asyncio.sleep(0.02)
        assert await server_subscriptions() == 0
    finally:
        await probe.aclose()


async def test_replay_pages_through_long_histories(server, services, owner):
    key_id, secret = owner
    session = await create_session(services.db, key_id)
    for n in range(1, 451):
        await append_message(services.db, session.id, f"m{n}")
    async with ws_client(server.ws_url, secret, "graphql-transport-ws") as ws:
        stream = events_of(ws, session.id, after=0)
        events = await stream.take(450)
    assert [e["message"]["sequence"] for e in events] == list(range(1, 451))


async def test_messages_whose_events_were_lost_are_read_from_storage(
    server, publisher, services, owner
):
    """A runner that stored messages but crashed before publishing leaves no hole."""
    key_id, secret = owner
    db = services.db
    session = await create_session(db, key_id)
    async with ws_client(server.ws_url, secret, "graphql-ws") as ws:
        stream = await live_events(ws, publisher, session.id)
        await append_message(db, session.id, "unpublished 1")
        await append_message(db, session.id, "unpublished 2")
        await add_message(db, publisher, session.id, "published 3")
        assert [e["message"]["sequence"] for e in await stream.take(3)] == [1, 2, 3]
        await append_message(db, session.id, "unpublished 4")
        await publish(publisher, session.id, ev.SESSION_STATUS_CHANGED, 4, status="IDLE")
        tail = await stream.take(2)
        assert [(e["__typename"], e["sequence"]) for e in tail] == [
            ("MessageAdded", 4),
            ("SessionStatusChanged", 4),
        ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_another_keys_session_is_not_found(server, services, new_key, owner, protocol):
    other_id, _ = await new_key()
    foreign = await create_session(services.db, other_id)
    _, secret = owner
    async with ws_client(server.ws_url, secret, protocol) as ws:
        for session_id, after, code, field in [
            (gid("Session", foreign.id), 0, "NOT_FOUND", "sessionId"),
            (gid("Session", new_id()), None, "NOT_FOUND", "sessionId"),
            ("not-an-id", None, "BAD_USER_INPUT", "sessionId"),
            (gid("Turn", new_id()), None, "BAD_USER_INPUT", "sessionId"),
            (gid("Session", foreign.id), -1, "BAD_USER_INPUT", "afterSequence"),
        ]:
            stream = Stream(ws, _EVENTS_MINIMAL, {"id": session_id, "after": after})
            error = await stream.error()
            assert error["extensions"]["code"] == code, error
            assert error["extensions"]["field"] == field


_EVENTS_MINIMAL = "subscription($id: ID!, $after: Int) { sessionEvents(sessionId: $id, afterSequence: $after) { sequence } }"


async def test_every_event_reads_rows_afresh(server, publisher, services, owner):
    """A websocket lives for hours: fields loaded through DataLoaders must not be cached
    from one event to the next."""
    key_id, secret = owner
    db = services.db
    session = await create_session(db, key_id, title="before")
    query = """subscription($id: ID!) { sessionEvents(sessionId: $id, afterSequence: 0) {
        ... on MessageAdded { message { sequence session { title } } } } }"""
    async with ws_client(server.ws_url, secret, "graphql-transport-ws") as ws:
        stream = Stream(ws, query, {"id": gid("Session", session.id)})
        await add_message(db, publisher, session.id, "one")
        first = await stream.next()
        async with db.transaction() as conn:
            table = SessionModel.__table__
            await conn.execute(update(table).where(table.c.id == session.id).values(title="after"))
        await add_message(db, publisher, session.id, "two")
        second = await stream.next()
    assert first["message"]["session"]["title"] == "before"
    assert second["message"]["session"]["title"] == "after"


async def test_resume_after_disconnects_is_lossless_while_messages_keep_coming(
    server, publisher, services, owner
):
    """Cycle after cycle of connect / subscribe(afterSequence=last) / read a few / drop the
    connection, while a writer appends and publishes messages (with deltas between): every
    stored message arrives exactly once, in order."""
    key_id, secret = owner
    db = services.db
    session = await create_session(db, key_id)
    turn_id = str(new_id())
    total = 300

    async def writer() -> None:
        for n in range(1, total + 1):
            await add_message(db, publisher, session.id, f"m{n}")
            await publish(publisher, session.id, ev.TEXT_DELTA, n, turn_id=turn_id, text="...")
            await asyncio.sleep(0.002)

    rng = random.Random(4)
    received: list[int] = []
    cycles = 0
    task = asyncio.create_task(writer())
    try:
        while not received or received[-1] < total:
            cycles += 1
            async with ws_client(server.ws_url, secret, PROTOCOLS[cycles % 2]) as ws:
                stream = events_of(ws, session.id, after=received[-1] if received else 0)
                wanted = rng.randint(1, 25)
                while wanted and (not received or received[-1] < total):
                    event = await stream.next(timeout=10)
                    if event["__typename"] == "MessageAdded":
                        received.append(event["message"]["sequence"])
                        wanted -= 1
                    else:  # a delta never claims more than the client has
                        assert received and event["sequence"] <= received[-1]
                await stream.close()
    finally:
        await task
    assert cycles >= 12
    assert received == list(range(1, total + 1))


async def test_session_updates_show_the_keys_own_sessions_and_all_for_admins(
    server, publisher, services, new_key
):
    alice_id, alice = await new_key()
    bob_id, _ = await new_key()
    _, admin = await new_key(admin=True)
    db = services.db
    mine = await create_session(db, alice_id, title="alice's")
    theirs = await create_session(db, bob_id, title="bob's")
    probe = await create_session(db, alice_id, title=PROBE)

    async def status_changed(row, status: str) -> None:
        event = ev.event(ev.SESSION_STATUS_CHANGED, row.id, 0, status=status,
                         session={**ev.row_to_json(row), "status": status})  # fmt: skip
        await publisher.publish(ev.owner_channel(row.owner_key_id), event)
        await publisher.publish(ev.ALL_SESSIONS_CHANNEL, event)

    async with (
        ws_client(server.ws_url, alice, "graphql-ws") as alice_ws,
        ws_client(server.ws_url, admin, "graphql-transport-ws") as admin_ws,
    ):
        streams = [Stream(alice_ws, UPDATES, {}), Stream(admin_ws, UPDATES, {})]
        for stream in streams:
            await wait_until_live(stream, lambda: status_changed(probe, "IDLE"))
        await status_changed(theirs, "RUNNING")
        await status_changed(mine, "RUNNING")
        assert await streams[0].next() == {
            "id": gid("Session", mine.id),
            "title": "alice's",
            "status": "RUNNING",
        }
        seen_by_admin = [(u["title"], u["status"]) for u in await streams[1].take(2)]
        assert ("bob's", "RUNNING") in seen_by_admin and ("alice's", "RUNNING") in seen_by_admin
        await asyncio.sleep(0.2)
        assert streams[0].pending() == 0  # bob's session never reached alice
