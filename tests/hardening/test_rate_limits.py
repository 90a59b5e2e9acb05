"""Rate limits per API key: shared by two server instances through Redis, separate budgets for
turns, other mutations and reads (subscription starts included), `retryAfter`, and what
happens while Redis is away (fail open, or refuse)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.hardening.conftest import acknowledged, code_of, one_window_ahead, receive, send
from tests.live import REDIS_URL, channel_prefix
from tests.redis_server import RedisServer
from tests.servers import ServerProcess, free_port, running_server

READ = "{ viewer { sessionCount } }"
CREATE = "mutation($input: CreateSessionInput!) { createSession(input: $input) { session { id } turn { id } } }"
SEND = (
    """mutation($input: SendMessageInput!) { sendMessage(input: $input) { turn { id status } } }"""
)
EVENTS = "subscription($id: ID!) { sessionEvents(sessionId: $id) { sequence } }"


@pytest.fixture(scope="module")
def instances(
    database_url: str, tmp_path_factory: Any
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two instances sharing the database and Redis, with tiny budgets."""
    env = {
        "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "REDIS_CHANNEL_PREFIX": channel_prefix(),
        "AGENT_BACKEND": "demo", "LOG_LEVEL": "WARNING",
        "WORKSPACE_ROOT": str(tmp_path_factory.mktemp("rate-limit-workspaces")),
        "RATE_LIMIT_READS": "6/minute", "RATE_LIMIT_MUTATIONS": "4/minute",
        "RATE_LIMIT_TURNS": "2/minute",
    }  # fmt: skip
    with running_server(env) as a, running_server(env) as b:
        yield a, b


async def post(
    server: ServerProcess, secret: str | None, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        return await http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )


def refusal(response: httpx.Response, budget: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200, response.text
    assert body.get("data") is None, body
    [error] = body["errors"]
    extensions = error["extensions"]
    assert extensions["code"] == "RATE_LIMITED", body
    assert extensions["budget"] == budget, body
    assert isinstance(extensions["retryAfter"], int), body
    assert response.headers["retry-after"] == str(extensions["retryAfter"])
    return extensions


def ok(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


async def test_a_key_s_read_budget_holds_across_both_instances(instances, new_key):
    a, b = instances
    _, secret = await new_key()
    _, other_secret = await new_key()
    for server in (a, b, a, b, a, b):  # 6 reads, alternating
        ok(await post(server, secret, READ))
    started = asyncio.get_running_loop().time()
    for server in (a, b):
        extensions = refusal(await post(server, secret, READ), "reads")
        waited = asyncio.get_running_loop().time() - started
        # The oldest of the six reads leaves the one-minute window within a minute.
        assert 1 <= extensions["retryAfter"] <= 60 - int(waited)
        assert extensions["limit"] == "6 per 1 minute"
    ok(await post(b, other_secret, READ))  # another key has its own budget


async def test_turns_other_mutations_and_reads_are_separate_budgets(instances, new_key):
    a, b = instances
    _, secret = await new_key()
    created = ok(await post(a, secret, CREATE, {"input": {"title": "no turn"}}))
    session_id = created["createSession"]["session"]["id"]
    assert created["createSession"]["turn"] is None
    ok(
        await post(
            b,
            secret,
            SEND,
            {"input": {"sessionId": session_id, "prompt": "one", "ifBusy": "ENQUEUE"}},
        )
    )
    ok(await post(a, secret, CREATE, {"input": {"title": "first turn", "prompt": "two"}}))
    # Two turns started (one on each instance): a third is refused, whichever way it starts.
    refusal(await post(b, secret, CREATE, {"input": {"title": "x", "prompt": "three"}}), "turns")
    refusal(
        await post(a, secret, SEND, {"input": {"sessionId": session_id, "prompt": "4", "ifBusy": "ENQUEUE"}}),
        "turns",
    )  # fmt: skip
    # Mutations that start no turn still have budget: 3 more, for 4 in all.
    for server in (b, a, b):
        ok(await post(server, secret, CREATE, {"input": {"title": "no turn"}}))
    refusal(await post(a, secret, CREATE, {"input": {"title": "no turn"}}), "mutations")
    # Reads are untouched by all of that.
    assert ok(await post(b, secret, READ))["viewer"]["sessionCount"] == 5


async def test_subscription_starts_spend_reads_and_are_refused_over_websockets(instances, new_key):
    a, b = instances
    _, secret = await new_key()
    session_id = ok(await post(a, secret, CREATE, {"input": {"title": "watched"}}))[
        "createSession"
    ]["session"]["id"]
    for _ in range(5):
        ok(await post(a, secret, READ))
    ws = await acknowledged(b, secret)
    try:
        await send(
            ws,
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": EVENTS, "variables": {"id": session_id}},
            },
        )
        await asyncio.sleep(0.5)  # the sixth read: the subscription runs, and sends nothing yet
        await send(
            ws,
            {
                "id": "2",
                "type": "subscribe",
                "payload": {"query": EVENTS, "variables": {"id": session_id}},
            },
        )
        # Like every other error that ends a subscription: `next` with the error, `complete`.
        message = await receive(ws)
        assert message["type"] == "next" and message["id"] == "2", message
        assert message["payload"]["data"] is None
        [error] = message["payload"]["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["budget"] == "reads"
        assert 1 <= error["extensions"]["retryAfter"] <= 60
        assert (await receive(ws)) == {"id": "2", "type": "complete"}
        # The connection and its first subscription go on.
        await send(ws, {"id": "1", "type": "complete"})
        await send(ws, {"id": "3", "type": "ping"})
        assert (await receive(ws))["type"] == "pong"
    finally:
        await ws.close()


async def test_query_limits_answer_over_websockets_without_closing(instances, new_key):
    a, _ = instances
    _, secret = await new_key()
    ws = await acknowledged(a, secret)
    try:
        huge = EVENTS + "#" + "x" * 70_000
        await send(
            ws,
            {"id": "1", "type": "subscribe", "payload": {"query": huge, "variables": {"id": "x"}}},
        )
        message = await receive(ws)
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert message["payload"][0]["extensions"]["kind"] == "bytes"
        deep = "subscription { sessionUpdates { " + "parent { " * 20 + "id" + " }" * 22
        await send(ws, {"id": "2", "type": "subscribe", "payload": {"query": deep}})
        message = await receive(ws)
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"]["kind"] == "depth"
        await send(ws, {"id": "3", "type": "ping"})
        assert (await receive(ws))["type"] == "pong"
    finally:
        await ws.close()


# ----------------------------------------------------------------- embedded and Redis outages


async def test_embedded_mode_limits_in_memory(app_with, new_key):
    app = await app_with(rate_limit_mutations="2/second", rate_limit_reads="3/2 seconds")
    assert app.services.rate_limiter is not None and not app.services.rate_limiter.shared
    _, secret = await new_key()
    _, other_secret = await new_key()
    client = app.client(secret)
    create = {"input": {"title": "t"}}
    # Warm the app up on another key's budgets (first-use costs), so that the window below is
    # not outlived by a slow first request on a busy machine.
    warm = app.client(other_secret)
    await warm.data(CREATE, create)
    await warm.data(READ)
    # Mutations: a moving window, exact. Two hits fill it; both leave it a second later.
    await client.data(CREATE, create)
    await client.data(CREATE, create)
    error = await client.error(CREATE, create)
    assert code_of(error) == "RATE_LIMITED" and error["extensions"]["retryAfter"] == 1
    await asyncio.sleep(1.05)
    await client.data(CREATE, create)
    # Reads: a sliding window counter. Three fill it; retryAfter says when one fits again.
    await one_window_ahead(2, needed=2)
    for _ in range(3):
        await client.data(READ)
    error = await client.error(READ)
    assert code_of(error) == "RATE_LIMITED" and error["extensions"]["budget"] == "reads"
    retry_after = error["extensions"]["retryAfter"]
    assert 1 <= retry_after <= 2
    await asyncio.sleep(retry_after + 0.05)
    await client.data(READ)
    # Callers without a key are limited by their address.
    await one_window_ahead(2, needed=2)
    anonymous = app.client(None)
    for _ in range(3):
        assert code_of(await anonymous.error(READ)) == "UNAUTHENTICATED"
    assert code_of(await anonymous.error(READ)) == "RATE_LIMITED"


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


async def test_redis_outage_fails_open_then_limits_resume(app_with, new_key, own_redis, caplog):
    app = await app_with(
        redis_url=own_redis.url, rate_limit_reads="2/minute", rate_limit_timeout_seconds=0.3,
        redis_channel_prefix=channel_prefix(),
    )  # fmt: skip
    assert app.services.rate_limiter is not None and app.services.rate_limiter.shared
    _, secret = await new_key()
    client = app.client(secret)
    await one_window_ahead(60, needed=10)
    await client.data(READ)
    await client.data(READ)
    assert code_of(await client.error(READ)) == "RATE_LIMITED"

    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="graphql_api.rate_limits"):
        for _ in range(5):
            await client.data(READ)  # allowed: RATE_LIMIT_FAIL_OPEN defaults to true
    assert any("did not answer" in r.getMessage() for r in caplog.records)

    own_redis.start()  # same port; the fixture stops it again
    await asyncio.sleep(1.1)  # past the pause after a failure
    _, fresh = await new_key()
    fresh_client = app.client(fresh)
    await one_window_ahead(60, needed=10)
    await fresh_client.data(READ)
    await fresh_client.data(READ)
    assert code_of(await fresh_client.error(READ)) == "RATE_LIMITED"


async def test_redis_outage_can_refuse_instead(app_with, new_key):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    app = await app_with(
        redis_url=closed, rate_limit_fail_open=False, rate_limit_timeout_seconds=0.3,
    )  # fmt: skip
    _, secret = await new_key()
    error = await app.client(secret).error(READ)
    assert code_of(error) == "RATE_LIMITED"
    assert error["extensions"]["reason"] == "LIMITER_UNAVAILABLE"
    assert error["extensions"]["retryAfter"] == 1


def test_settings_refuse_unreadable_budgets() -> None:
    from pydantic import ValidationError

    from graphql_api.settings import Settings

    with pytest.raises(ValidationError):
        Settings(_env_file=None, rate_limit_turns="plenty")  # type: ignore[call-arg]
