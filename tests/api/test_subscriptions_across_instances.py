"""Two server instances sharing PostgreSQL (or the SQLite file) and Redis: what one instance
publishes reaches subscribers on the other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from graphql_api.broker.redis import RedisBroker
from graphql_api.domain import events as ev
from tests.live import (
    PROBE,
    REDIS_URL,
    UPDATES,
    Stream,
    add_message,
    create_session,
    gid,
    live_events,
    wait_until_live,
    ws_client,
)
from tests.servers import ServerProcess, running_server


@pytest.fixture(scope="module")
def instances(database_url: str, prefix: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "REDIS_CHANNEL_PREFIX": prefix,
           "AGENT_BACKEND": "demo", "LOG_LEVEL": "WARNING"}  # fmt: skip
    with running_server(env) as a, running_server(env) as b:
        yield a, b


@pytest.fixture(scope="module")
async def publisher(prefix: str) -> AsyncIterator[RedisBroker]:
    broker = RedisBroker(REDIS_URL, channel_prefix=prefix)
    await broker.start()
    yield broker
    await broker.stop()


async def mutate(
    server: ServerProcess, secret: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {secret}"},
        )  # fmt: skip
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


async def test_a_status_change_made_on_one_instance_reaches_subscribers_on_the_other(
    instances, publisher, services, new_key
):
    a, b = instances
    key_id, secret = await new_key()
    session = await create_session(services.db, key_id, title="shared")
    probe = await create_session(services.db, key_id, title=PROBE)

    async def probe_update() -> None:
        event = ev.event(
            ev.SESSION_STATUS_CHANGED, probe.id, 0, status="IDLE", session=ev.row_to_json(probe)
        )
        await publisher.publish(ev.owner_channel(key_id), event)

    async with ws_client(b.ws_url, secret, "graphql-transport-ws") as on_b:
        events = await live_events(on_b, publisher, session.id)
        updates = Stream(on_b, UPDATES, {})
        await wait_until_live(updates, probe_update)

        archive = "mutation($id: ID!) { archiveSession(input: {id: $id}) { session { status } } }"
        await mutate(a, secret, archive, {"id": gid("Session", session.id)})

        changed = await events.next()
        assert (changed["__typename"], changed["status"]) == ("SessionStatusChanged", "ARCHIVED")
        assert await updates.next() == {
            "id": gid("Session", session.id),
            "title": "shared",
            "status": "ARCHIVED",
        }


async def test_messages_published_through_one_broker_reach_both_instances(
    instances, publisher, services, new_key
):
    key_id, secret = await new_key()
    session = await create_session(services.db, key_id)
    async with (
        ws_client(instances[0].ws_url, secret, "graphql-ws") as on_a,
        ws_client(instances[1].ws_url, secret, "graphql-transport-ws") as on_b,
    ):
        streams = [await live_events(ws, publisher, session.id) for ws in (on_a, on_b)]
        for n in range(1, 11):
            await add_message(services.db, publisher, session.id, f"m{n}")
        for stream in streams:
            assert [e["message"]["sequence"] for e in await stream.take(10)] == list(range(1, 11))


async def test_a_turn_run_on_one_instance_is_watched_live_from_the_other(
    instances, services, new_key
):
    """The real turn runner (demo backend) on A; the watcher on B sees the turn from start to
    finish, every stored message exactly once and in order."""
    a, b = instances
    _, secret = await new_key()
    created = await mutate(
        a, secret, 'mutation { createSession(input: {title: "t"}) { session { id } } }', {}
    )
    session_id = created["createSession"]["session"]["id"]
    query = """subscription($id: ID!) { sessionEvents(sessionId: $id, afterSequence: 0) {
        __typename sequence ... on TextDelta { text } ... on TurnFinished { turn { status result } }
        ... on MessageAdded { message { sequence role } } } }"""
    async with ws_client(b.ws_url, secret, "graphql-transport-ws") as on_b:
        stream = Stream(on_b, query, {"id": session_id})
        send = 'mutation($id: ID!) { sendMessage(input: {sessionId: $id, prompt: "hello there"}) { turn { id } } }'
        await mutate(a, secret, send, {"id": session_id})
        seen = []
        while not seen or seen[-1]["__typename"] != "TurnFinished":
            seen.append(await stream.next(timeout=30))
    kinds = [e["__typename"] for e in seen]
    messages = [e["message"] for e in seen if e["__typename"] == "MessageAdded"]
    assert "TurnStarted" in kinds and "TextDelta" in kinds
    assert [m["sequence"] for m in messages] == list(range(1, len(messages) + 1))
    roles = [m["role"] for m in messages]
    assert roles[0] == "USER" and "ASSISTANT" in roles
    assert seen[-1]["turn"]["status"] == "COMPLETED"
    assert (
        "".join(e["text"] for e in seen if e["__typename"] == "TextDelta")
        in seen[-1]["turn"]["result"]
    )
