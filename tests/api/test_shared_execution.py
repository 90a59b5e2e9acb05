"""Shared execution of live events (api/fanout.py): subscribers of one session with the same
document, variables and API key cost one execution per event, and get exactly the frames
Strawberry would have sent them; other keys, variables or documents never share; a subscriber
that stops reading is still cut off alone with SLOW_CONSUMER.

The app runs in this test process (uvicorn on a real port, in-process broker), so executions
are counted at the schema's executor: each execution of a subscription's selection set for an
event builds one per-event executor.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn
import websockets

from graphql_api.api.event_executor import EventScopedMemoExecutor
from graphql_api.api.view import GraphQLView
from graphql_api.app import create_app
from graphql_api.broker import InProcessBroker
from graphql_api.domain import events as ev
from graphql_api.services import Services
from tests.live import (
    EVENTS,
    PROBE,
    add_message,
    append_message,
    create_approval,
    create_session,
    create_turn,
    gid,
    probe_delta,
)
from tests.servers import free_port

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


@pytest.fixture(scope="module")
async def app(services: Services) -> AsyncIterator[Any]:
    """The test run's shared services behind a real uvicorn in this process (lifespan off):
    its websocket URL, and its view's fan-out."""
    assert isinstance(services.broker, InProcessBroker)
    port = free_port()
    starlette = create_app(services=services)
    endpoints = [getattr(route, "endpoint", None) for route in starlette.routes]
    view = next(e for e in endpoints if isinstance(e, GraphQLView))
    config = uvicorn.Config(starlette, host="127.0.0.1", port=port, lifespan="off",
                            log_level="warning", ws_per_message_deflate=False)  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    yield SimpleNamespace(url=f"ws://127.0.0.1:{port}/graphql", fanout=view.fanout)
    server.should_exit = True
    await task


@pytest.fixture
def ws_url(app: Any) -> str:
    return app.url


@pytest.fixture
def executions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """(executor of the operation or group, event root) of every execution for a non-probe
    event, in order."""
    seen: list[tuple[Any, Any]] = []
    original = EventScopedMemoExecutor.build_per_event_executor

    def counting(self: Any, payload: Any) -> Any:
        if getattr(payload, "text", None) != PROBE:
            seen.append((self, payload))
        return original(self, payload)

    monkeypatch.setattr(EventScopedMemoExecutor, "build_per_event_executor", counting)
    return seen


class Subscriber:
    """One subscription on a websocket of its own, read frame by frame (raw text)."""

    def __init__(self, ws: Any, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol

    @classmethod
    async def open(
        cls,
        url: str,
        secret: str,
        protocol: str,
        query: str,
        variables: dict[str, Any],
        operation_id: str = "1",
        **connect: Any,
    ) -> Subscriber:
        ws = await websockets.connect(url, subprotocols=[protocol], compression=None, **connect)
        await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": secret}}))
        while (message := json.loads(await asyncio.wait_for(ws.recv(), 5)))["type"] == "ka":
            pass
        assert message["type"] == "connection_ack", message
        kind = "subscribe" if protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": operation_id, "type": kind, "payload": payload}))
        return cls(ws, protocol)

    async def frame(self, timeout: float = 5.0, *, probes: bool = False) -> str:
        """The next result frame's text (keep-alives, and probes unless asked for, skipped)."""
        while True:
            text = await asyncio.wait_for(self.ws.recv(), timeout)
            kind = json.loads(text)["type"]
            if kind == "ka" or (not probes and PROBE in text):
                continue
            return text

    async def result(self, timeout: float = 5.0) -> dict[str, Any]:
        message = json.loads(await self.frame(timeout))
        assert message["type"] in ("next", "data"), message
        return message["payload"]

    async def close(self) -> None:
        await self.ws.close()


async def all_live(subscribers: list[Subscriber], broker: Any, session_id: Any) -> None:
    """Probes until every subscriber has received one (each then reads live events)."""
    for subscriber in subscribers:
        for _ in range(50):
            await broker.publish(ev.session_channel(session_id), probe_delta(session_id))
            try:
                while PROBE not in await subscriber.frame(0.2, probes=True):
                    pass
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("a subscription never went live")


async def settle() -> None:
    """Until the probes still on their way have been delivered (and skipped)."""
    await asyncio.sleep(0.2)


def executions_per_event(executions: list[tuple[Any, Any]]) -> list[int]:
    """How many times each distinct event was executed, in the order they were published."""
    by_event: dict[tuple[Any, ...], int] = {}
    for _, root in executions:
        key = (type(root).__name__, root.sequence, getattr(root, "text", None),
               getattr(root, "status", None))  # fmt: skip
        by_event[key] = by_event.get(key, 0) + 1
    return list(by_event.values())


async def publish_events(services: Services, session: Any, turn: Any, approval: Any) -> int:
    """A turn's events, as a runner publishes them; returns how many."""
    broker, db = services.broker, services.db
    channel = ev.session_channel(session.id)
    turn_row = ev.row_to_json(turn)
    await broker.publish(channel, ev.event(ev.TURN_STARTED, session.id, 0, turn=turn_row))
    await broker.publish(
        channel, ev.event(ev.TEXT_DELTA, session.id, 0, turn_id=str(turn.id), text="Hel")
    )
    await add_message(db, broker, session.id, "Hello")
    await broker.publish(channel, ev.event(
        ev.TOOL_APPROVAL_REQUESTED, session.id, 1, approval=ev.row_to_json(approval)))  # fmt: skip
    await broker.publish(channel, ev.event(ev.SESSION_STATUS_CHANGED, session.id, 1, status="IDLE"))
    return 5


async def test_like_subscribers_share_one_execution_per_event_and_get_strawberrys_frames(
    ws_url, services, new_key, executions, monkeypatch
):
    key_id, secret = await new_key()
    session = await create_session(services.db, key_id)
    turn = await create_turn(services.db, session.id)
    approval = await create_approval(services.db, session.id, turn.id)
    variables = {"id": gid("Session", session.id), "after": None}

    # One subscriber of each protocol without sharing: Strawberry executes and sends its events.
    # (the setting is read when the subscription starts: live means started)
    monkeypatch.setattr(services.settings, "subscription_shared_execution", False)
    alone = [
        await Subscriber.open(ws_url, secret, p, EVENTS, variables)
        for p in (TRANSPORT_WS, LEGACY_WS)
    ]
    await all_live(alone, services.broker, session.id)
    monkeypatch.setattr(services.settings, "subscription_shared_execution", True)
    shared = [
        await Subscriber.open(ws_url, secret, p, EVENTS, variables)
        for p in [TRANSPORT_WS, LEGACY_WS] * 4
    ]
    try:
        await all_live(shared, services.broker, session.id)
        await settle()
        executions.clear()
        count = await publish_events(services, session, turn, approval)
        frames = [[await s.frame() for _ in range(count)] for s in alone + shared]
    finally:
        for subscriber in alone + shared:
            await subscriber.close()

    # Byte for byte what Strawberry sends, per protocol (same operation id "1" everywhere).
    for subscriber, received in zip(shared, frames[2:], strict=True):
        expected = frames[0] if subscriber.protocol == TRANSPORT_WS else frames[1]
        assert received == expected
    results = [json.loads(f)["payload"]["data"]["sessionEvents"] for f in frames[0]]
    assert [(r["__typename"], r["sequence"]) for r in results] == [
        ("TurnStarted", 0), ("TextDelta", 0), ("MessageAdded", 1), ("ToolApprovalRequested", 1),
        ("SessionStatusChanged", 1),
    ]  # fmt: skip
    # (its turn and session come through DataLoaders: an execution that awaits)
    assert results[3]["approval"]["session"] == {"id": gid("Session", session.id)}
    # Each event: one execution for each of the two unshared subscribers, one for the 8 shared.
    assert len(executions) == 3 * count
    assert executions_per_event(executions) == [3] * count


async def test_other_keys_variables_or_documents_do_not_share(
    app, ws_url, services, new_key, executions
):
    owner_id, owner = await new_key()
    admin_id, admin = await new_key(admin=True)
    session = await create_session(services.db, owner_id)
    turn = await create_turn(services.db, session.id)
    approval = await create_approval(services.db, session.id, turn.id)
    session_gid = gid("Session", session.id)

    def ours(group: Any) -> bool:
        return group.context.principal.key_id in (owner_id, admin_id)

    fewer_fields = """subscription($id: ID!, $after: Int) {
      sessionEvents(sessionId: $id, afterSequence: $after) {
        __typename sequence ... on TextDelta { text } } }"""
    groups = {
        "owner": [(owner, EVENTS, {"id": session_gid, "after": None})] * 3,
        # the same, except that `after` is left out rather than null: other variables
        "owner, other variables": [(owner, EVENTS, {"id": session_gid})] * 2,
        "admin key": [(admin, EVENTS, {"id": session_gid, "after": None})] * 2,
        "owner, other document": [(owner, fewer_fields, {"id": session_gid, "after": None})] * 2,
    }
    subscribers: dict[str, list[Subscriber]] = {}
    for name, specs in groups.items():
        subscribers[name] = [
            await Subscriber.open(ws_url, secret, protocol, query, variables)
            for (secret, query, variables), protocol in zip(specs, [TRANSPORT_WS, LEGACY_WS] * 2)
        ]  # fmt: skip
    everyone = [s for group in subscribers.values() for s in group]
    try:
        await all_live(everyone, services.broker, session.id)
        await settle()
        executions.clear()
        count = await publish_events(services, session, turn, approval)
        results = {
            name: [[await s.result() for _ in range(count)] for s in group]
            for name, group in subscribers.items()
        }
        mine = [g for g in app.fanout.groups.values() if ours(g)]
        assert sorted(g.members for g in mine) == [2, 2, 2, 3]
        # every member took these events' answers, so none of them is held any more (only
        # probes some member had not subscribed for yet may be, within the memo's bounds)
        held = [entry[0] for g in mine for entry in g._answers.values()]
        assert all(event.get("text") == PROBE for event in held), held
    finally:
        for subscriber in everyone:
            await subscriber.close()
    for _ in range(100):  # the groups go with their last members
        if not any(ours(g) for g in app.fanout.groups.values()):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("groups outlived their subscribers")

    # One execution per event and group: four groups, whatever their sizes.
    assert executions_per_event(executions) == [len(groups)] * count
    assert len({id(executor) for executor, _ in executions}) == len(groups)
    for name, received in results.items():
        assert all(r == received[0] for r in received), name  # within a group: the same
        assert not any(r.get("errors") for r in received[0]), received[0]
    assert results["owner"][0] == results["admin key"][0] == results["owner, other variables"][0]
    short = [r["data"]["sessionEvents"] for r in results["owner, other document"][0]]
    assert short[2] == {"__typename": "MessageAdded", "sequence": 1}


def incompressible_text(size: int) -> str:
    return base64.b64encode(os.urandom(size * 3 // 4)).decode()


async def test_a_stalled_member_of_a_group_is_cut_off_alone_and_resumes(
    ws_url, services, new_key, monkeypatch
):
    monkeypatch.setattr(services.settings, "subscription_queue_size", 20)
    key_id, secret = await new_key()
    db, broker = services.db, services.broker
    session = await create_session(db, key_id)
    await append_message(db, session.id, "first")
    variables = {"id": gid("Session", session.id), "after": 0}  # replay, then live: one group

    # Reads its first event, then nothing: a small receive buffer, and the client library
    # stops reading its socket after one queued frame.
    sock = socket.create_connection(("127.0.0.1", int(ws_url.rsplit(":", 1)[1].split("/")[0])))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    stalled = await Subscriber.open(ws_url, secret, TRANSPORT_WS, EVENTS, variables, "slow",
                                    sock=sock, max_queue=1, max_size=None)  # fmt: skip
    fast = await Subscriber.open(ws_url, secret, LEGACY_WS, EVENTS, variables, max_size=None)
    try:
        assert (await stalled.result())["data"]["sessionEvents"]["sequence"] == 1
        assert (await fast.result())["data"]["sessionEvents"]["sequence"] == 1
        total = 150
        loop = asyncio.get_running_loop()
        published: dict[int, float] = {}
        lags: list[float] = []

        async def writer() -> None:
            for _ in range(total):
                row = await add_message(db, broker, session.id, incompressible_text(64 * 1024))
                published[row.sequence] = loop.time()
                await asyncio.sleep(0)

        task = asyncio.create_task(writer())
        for sequence in range(2, total + 2):
            event = (await fast.result(20))["data"]["sessionEvents"]
            assert event["message"]["sequence"] == sequence
            lags.append(loop.time() - published.get(sequence, loop.time()))
        await task
        assert max(lags) < 5, "the stalled subscriber held up its group"

        received = [1]
        while True:
            payload = await stalled.result(20)
            if payload.get("errors"):
                error = payload["errors"][0]
                break
            received.append(payload["data"]["sessionEvents"]["message"]["sequence"])
        assert error["extensions"] == {"code": "SLOW_CONSUMER", "lastSequence": received[-1]}
        assert received == list(range(1, received[-1] + 1)) and received[-1] < total + 1
    finally:
        await stalled.close()
        await fast.close()

    resumed = await Subscriber.open(
        ws_url, secret, TRANSPORT_WS, EVENTS,
        {"id": gid("Session", session.id), "after": received[-1]}, max_size=None,
    )  # fmt: skip
    try:
        while received[-1] < total + 1:
            event = (await resumed.result(20))["data"]["sessionEvents"]
            received.append(event["message"]["sequence"])
    finally:
        await resumed.close()
    assert received == list(range(1, total + 2))
