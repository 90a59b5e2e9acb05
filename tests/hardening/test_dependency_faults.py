"""Dependency faults, against real services: PostgreSQL and Redis restarted under load.

PostgreSQL: this module's own cluster (tests/pg_server.py), restarted while a real server
process answers a steady load of queries and mutations. Requests during the outage get a clean
SERVICE_UNAVAILABLE (a code, a request id, `Retry-After`; no 5xx, no exception text), /readyz
says 503, and once PostgreSQL is back every request succeeds again without restarting the
server; its background loops (turn dispatch, webhook deliverer) carry on.

Redis: a private redis-server (tests/redis_server.py), killed and restarted under load:
queries and mutations keep working from PostgreSQL (a turn runs, `wait: true` answers), open
subscriptions end with BROKER_UNAVAILABLE, new ones work once Redis is back, and rate limits
fail open or closed as RATE_LIMIT_FAIL_OPEN says.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from graphql_api.broker.redis import RedisBroker
from graphql_api.domain import events as ev
from graphql_api.domain.api_keys import ApiKeyService
from graphql_api.api.ids import from_global_id
from graphql_api.broker import InProcessBroker
from graphql_api.domain.errors import BrokerUnavailable, DatabaseUnavailable, ServiceUnavailable
from graphql_api.domain.live_streams import SessionEventStream
from graphql_api.domain.principal import Principal
from graphql_api.store.database import Database
from graphql_api.store.migrate import upgrade_to_head
from tests.hardening.conftest import code_of
from tests.live import (
    EVENTS,
    PROBE,
    UPDATES,
    Stream,
    append_message,
    create_session,
    events_of,
    probe_delta,
    wait_until_live,
    ws_client,
)
from tests.pg_server import PostgresServer
from tests.redis_server import RedisServer
from tests.servers import ServerProcess, running_server
from tests.webhooks.receiver import Receiver

READ = "{ viewer { sessionCount } sessions(first: 5) { totalCount edges { node { id title } } } }"
CREATE = """mutation($input: CreateSessionInput!) {
  createSession(input: $input) { session { id } turn { id } } }"""
SEND = """mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { turn { id status result } } }"""
TURNS = """query($id: ID!) { node(id: $id) { ... on Session {
  status turns(first: 10) { edges { node { status } } } messages(first: 50) { totalCount } } } }"""
CREATE_WEBHOOK = """mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { webhook { id } } }"""

#: What must never reach a client: exception text, driver names, SQL.
LEAKS = ("Traceback", "asyncpg", "sqlalchemy", "SQLAlchemy", "SELECT ", "INSERT ", "Errno",
         "Connection refused", "ConnectionRefusedError", "OperationalError")  # fmt: skip


# ================================================================= PostgreSQL


@dataclass
class Cluster:
    server: PostgresServer
    url: str

    async def stop(self, mode: str = "fast") -> None:
        # In a thread: the event loop keeps running, as a server's would during an outage.
        await asyncio.to_thread(self.server.stop, mode)

    async def start(self) -> None:
        await asyncio.to_thread(self.server.start)


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    """A private PostgreSQL cluster with a migrated database: these tests restart it."""
    server = await asyncio.to_thread(PostgresServer().start)
    try:
        conn = await asyncpg.connect(server.admin_dsn)
        try:
            await conn.execute("CREATE DATABASE gapi")
        finally:
            await conn.close()
        url = server.url("gapi")
        await upgrade_to_head(url)
        yield Cluster(server, url)
    finally:
        await asyncio.to_thread(server.destroy)


async def new_keys(url: str, count: int) -> list[str]:
    db = Database(url, pool_size=1)
    try:
        keys = ApiKeyService(db)
        return [(await keys.create(f"faults-{n}")).secret for n in range(count)]
    finally:
        await db.dispose()


async def test_the_database_boundary_reports_outages_and_replaces_dead_pooled_connections(
    cluster: Cluster,
):
    db = Database(cluster.url, pool_size=2)
    try:
        async with db.read() as conn:
            assert await conn.scalar(text("select 1")) == 1

        await cluster.stop("fast")
        try:
            with pytest.raises(DatabaseUnavailable) as raised:
                async with db.read() as conn:
                    await conn.scalar(text("select 1"))
            assert raised.value.extensions == {"dependency": "database", "retryAfter": 1}
            with pytest.raises(DatabaseUnavailable):
                async with db.transaction() as conn:
                    await conn.execute(text("select 1"))
            with pytest.raises(Exception):  # noqa: B017 - /readyz only needs "it failed"
                await db.ping()
        finally:
            await cluster.start()
        async with db.transaction() as conn:  # the pool was invalidated: a fresh connection
            assert await conn.scalar(text("select 1")) == 1

        # Restarted while the pool sat idle: the pooled connection is dead, and replaced at
        # checkout (asyncpg saw its socket close), so the first read after the restart works.
        await cluster.stop("immediate")
        await cluster.start()
        async with db.read() as conn:
            assert await conn.scalar(text("select 1")) == 1

        # A wrong statement is not an outage: it stays what it is.
        with pytest.raises(sa_exc.ProgrammingError):
            async with db.read() as conn:
                await conn.execute(text("select * from no_such_table"))
    finally:
        await db.dispose()


async def test_a_stream_that_cannot_read_the_database_ends_with_where_to_resume(cluster: Cluster):
    db = Database(cluster.url, pool_size=2)
    broker = InProcessBroker()
    try:
        key = await ApiKeyService(db).create("stream")
        owner = key.row["id"]
        session = await create_session(db, owner)
        await append_message(db, session.id, "one")
        principal = Principal(key_id=owner, name="stream", is_admin=False)
        stream = SessionEventStream(
            db, broker, principal, session.id, after_sequence=0, queue_size=10
        ).__aiter__()
        assert (await anext(stream))["sequence"] == 1  # replayed from the database

        await cluster.stop("fast")
        try:
            # A live event names sequence 3: the stream reads 2 from the database first, and
            # cannot. It ends with SERVICE_UNAVAILABLE and the sequence to resume from.
            live = ev.event(ev.MESSAGE_ADDED, session.id, 3, message={})
            await broker.publish(ev.session_channel(session.id), live)
            with pytest.raises(ServiceUnavailable) as raised:
                await anext(stream)
            assert raised.value.code.value == "SERVICE_UNAVAILABLE"
            assert raised.value.extensions == {
                "dependency": "database", "retryAfter": 1, "lastSequence": 1}  # fmt: skip
        finally:
            await cluster.start()
        await stream.aclose()
    finally:
        await db.dispose()


@dataclass
class Outcome:
    kind: str
    sent: float
    done: float
    status: int | None
    headers: dict[str, str]
    text: str

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.text)

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.body.get("errors")


async def load(
    http: httpx.AsyncClient, secret: str, outcomes: list[Outcome], stop: asyncio.Event
) -> None:
    """Queries and mutations, one after the other, until `stop`."""
    headers = {"Authorization": f"Bearer {secret}"}
    requests = [
        ("query", {"query": READ}),
        ("mutation", {"query": CREATE, "variables": {"input": {"title": "load"}}}),
    ]
    while not stop.is_set():
        for kind, payload in requests:
            sent = time.monotonic()
            try:
                response = await http.post("/graphql", json=payload, headers=headers)
                status, got, body = response.status_code, dict(response.headers), response.text
            except httpx.HTTPError as error:  # must not happen: recorded, then asserted on
                status, got, body = None, {}, repr(error)
            outcomes.append(Outcome(kind, sent, time.monotonic(), status, got, body))
        await asyncio.sleep(0.01)


def assert_clean(outcome: Outcome) -> None:
    """A JSON GraphQL answer; its errors, if any, are SERVICE_UNAVAILABLE without leaks."""
    assert outcome.status == 200, outcome
    for leak in LEAKS:
        assert leak not in outcome.text, outcome
    errors = outcome.body.get("errors") or []
    for error in errors:
        extensions = error["extensions"]
        assert extensions["code"] == "SERVICE_UNAVAILABLE", outcome
        assert extensions["dependency"] == "database" and extensions["retryAfter"] == 1, outcome
        assert re.fullmatch(r"[0-9a-f]{16}", extensions["requestId"]), outcome
        assert error["message"] == "the database is unavailable; retry shortly", outcome
    if errors:
        assert outcome.headers.get("retry-after") == "1", outcome


async def post(
    http: httpx.AsyncClient, secret: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def readiness(http: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await http.get("/readyz")
    return response.status_code, response.json()


async def eventually(check: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def ws_refusal(url: str, secret: str, protocol: str) -> tuple[int, list[dict[str, Any]]]:
    """Connect and send connection_init; the close code and the messages before it."""
    messages: list[dict[str, Any]] = []
    async with websockets.connect(url, subprotocols=[protocol]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"apiKey": secret}}))
        try:
            while True:
                messages.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, messages


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hooks = Receiver().start()
    yield hooks
    hooks.stop()


async def test_postgres_restart_under_load(cluster: Cluster, receiver: Receiver, tmp_path: Path):
    loader, fresh, turner = await new_keys(cluster.url, 3)
    env = {
        "DATABASE_URL": cluster.url, "AGENT_BACKEND": "demo", "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text", "RATE_LIMIT_ENABLED": "false",
        "WORKSPACE_ROOT": str(tmp_path / "workspaces"),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config"),
        "TURN_LEASE_SECONDS": "3",  # the lease loop runs every second, through the outage too
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "WEBHOOK_POLL_INTERVAL_SECONDS": "0.2",
    }  # fmt: skip
    with running_server(env) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            assert (await readiness(http))[0] == 200
            hook_path = receiver.new_path()
            created = await post(http, turner, CREATE_WEBHOOK, {"input": {
                "url": receiver.url(hook_path), "events": ["TURN_FINISHED"]}})  # fmt: skip
            assert not created.get("errors"), created

            outcomes: list[Outcome] = []
            stop = asyncio.Event()
            workers = [asyncio.create_task(load(http, loader, outcomes, stop)) for _ in range(3)]
            try:
                await eventually(lambda: _count(outcomes, ok=True) >= 20, what="a warm load")
                down_from = time.monotonic()
                await cluster.stop("fast")
                down = time.monotonic()
                try:
                    # While PostgreSQL is down (deterministically: it stays down until start()).
                    status, body = await readiness(http)
                    assert (status, body["checks"]["database"]) == (503, "unavailable"), body
                    # A key the server has not verified yet cannot be checked: not
                    # UNAUTHENTICATED (the key may be fine) but SERVICE_UNAVAILABLE.
                    refused = await post(http, fresh, READ)
                    assert [code_of(e) for e in refused["errors"]] == ["SERVICE_UNAVAILABLE"]
                    # Websockets close with 1013 "try again later" (not 4403: the key may be
                    # fine); graphql-ws says why in a connection_error first.
                    refusal = await ws_refusal(server.ws_url, fresh, "graphql-transport-ws")
                    assert refusal == (1013, [])
                    assert await ws_refusal(server.ws_url, fresh, "graphql-ws") == (1013, [{
                        "type": "connection_error", "payload": {
                            "message": "the database is unavailable; retry shortly",
                            "extensions": {"code": "SERVICE_UNAVAILABLE", "dependency": "database",
                                           "retryAfter": 1}}}])  # fmt: skip
                    await eventually(
                        lambda: _failed_between(outcomes, down, time.monotonic()) >= 6,
                        what="requests during the outage",
                    )
                    await asyncio.sleep(1.0)
                finally:
                    up_from = time.monotonic()
                    await cluster.start()
                up = time.monotonic()
                await eventually(
                    lambda: _ready(http), what="/readyz to answer 200 again", timeout=10
                )
                await eventually(
                    lambda: _count(outcomes, ok=True, after=up) >= 30, what="load after restart"
                )
            finally:
                stop.set()
                await asyncio.gather(*workers)

            for outcome in outcomes:
                assert_clean(outcome)
            before = [o for o in outcomes if o.done < down_from]
            during = [o for o in outcomes if o.sent > down and o.done < up_from]
            after = [o for o in outcomes if o.sent > up]
            assert before and all(o.ok for o in before)
            assert {o.kind for o in during} == {"query", "mutation"}
            assert not any(o.ok for o in during)
            # Back without a restart of the server: every request sent since PostgreSQL
            # came back succeeded (dead pooled connections are replaced, not used).
            assert after and [o for o in after if not o.ok] == []

            # The background loops lived through it: a turn runs, a queued one follows (the
            # dispatch loop starts it), and the deliverer sends both TURN_FINISHED webhooks.
            # Both keys work, the one never checked before the outage too.
            assert not (await post(http, fresh, READ)).get("errors")
            first = await post(http, turner, CREATE, {"input": {"title": "after", "prompt": "one"}})
            session_id = first["data"]["createSession"]["session"]["id"]
            queued = await post(http, turner, SEND, {"input": {
                "sessionId": session_id, "prompt": "two", "ifBusy": "ENQUEUE"}})  # fmt: skip
            assert not queued.get("errors"), queued

            async def both_completed() -> bool:
                node = (await post(http, turner, TURNS, {"id": session_id}))["data"]["node"]
                statuses = [e["node"]["status"] for e in node["turns"]["edges"]]
                return statuses == ["COMPLETED", "COMPLETED"] and node["status"] == "IDLE"

            await eventually(both_completed, what="both turns to complete")
            hooks = await receiver.wait_for(hook_path, 2, timeout=15)
            assert {json.loads(h.body)["type"] for h in hooks} == {"TURN_FINISHED"}

        assert server.process is not None and server.process.poll() is None
        log = server.log()
        assert "claiming webhook deliveries failed: the database is unavailable" in log
        assert "the database is unavailable; retry shortly in" in log  # request lines, with ids


def _count(outcomes: list[Outcome], *, ok: bool, after: float = 0.0) -> int:
    return sum(1 for o in list(outcomes) if o.sent > after and o.ok == ok)


def _failed_between(outcomes: list[Outcome], start: float, end: float) -> int:
    return sum(1 for o in list(outcomes) if o.sent > start and o.done < end and not o.ok)


async def _ready(http: httpx.AsyncClient) -> bool:
    return (await readiness(http))[0] == 200


# ================================================================= Redis


def redis_env(
    database_url: str, redis: RedisServer, prefix: str, workspaces: Path
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url, "REDIS_URL": redis.url, "REDIS_CHANNEL_PREFIX": prefix,
        "AGENT_BACKEND": "demo", "LOG_LEVEL": "WARNING", "LOG_FORMAT": "text",
        "WORKSPACE_ROOT": str(workspaces / "workspaces"),
        "CLAUDE_CONFIG_DIR": str(workspaces / "claude-config"),
        "RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_TIMEOUT_SECONDS": "0.3",
        "RATE_LIMIT_READS": "100000/minute", "RATE_LIMIT_MUTATIONS": "100000/minute",
        "RATE_LIMIT_TURNS": "1000/minute",
    }  # fmt: skip


@pytest.fixture(scope="module")
def fail_open(
    database_url: str, redis_server: RedisServer, prefix: str, tmp_path_factory: Any
) -> Iterator[ServerProcess]:
    env = redis_env(database_url, redis_server, prefix, tmp_path_factory.mktemp("open"))
    with running_server({**env, "RATE_LIMIT_FAIL_OPEN": "true"}) as server:
        yield server


@pytest.fixture(scope="module")
def fail_closed(
    database_url: str, redis_server: RedisServer, prefix: str, tmp_path_factory: Any
) -> Iterator[ServerProcess]:
    env = redis_env(database_url, redis_server, prefix, tmp_path_factory.mktemp("closed"))
    with running_server({**env, "RATE_LIMIT_FAIL_OPEN": "false"}) as server:
        yield server


@pytest.fixture
async def publisher(redis_server: RedisServer, prefix: str) -> AsyncIterator[RedisBroker]:
    """The test's own connection to Redis, to publish probes."""
    broker = RedisBroker(redis_server.url, channel_prefix=prefix, subscribe_timeout=1)
    await broker.start()
    yield broker
    await broker.stop()


async def wait_ready(http: httpx.AsyncClient) -> None:
    await eventually(lambda: _ready(http), timeout=15, what="/readyz to answer 200")


async def test_redis_restart_under_load(fail_open, redis_server, publisher, services, new_key):
    key_id, secret = await new_key()
    probe = await create_session(services.db, key_id, title=PROBE)

    async def probe_update() -> None:
        event = ev.event(ev.SESSION_STATUS_CHANGED, probe.id, 0, status="IDLE",
                         session=ev.row_to_json(probe))  # fmt: skip
        with contextlib.suppress(BrokerUnavailable):  # tried again until one arrives
            await publisher.publish(ev.owner_channel(key_id), event)

    async with httpx.AsyncClient(base_url=fail_open.url, timeout=30) as http:
        await wait_ready(http)
        created = await post(http, secret, CREATE, {"input": {"title": "watched", "prompt": "hi"}})
        session_gid = created["data"]["createSession"]["session"]["id"]
        session_id = ev_uuid(session_gid)
        await eventually(lambda: _idle(http, secret, session_gid), what="the first turn")
        per_turn = await _message_count(http, secret, session_gid)  # the prompt, the answer ...

        outcomes: list[Outcome] = []
        stop = asyncio.Event()
        workers = [asyncio.create_task(load(http, secret, outcomes, stop)) for _ in range(2)]
        try:
            async with (
                ws_client(fail_open.ws_url, secret, "graphql-transport-ws") as events_ws,
                ws_client(fail_open.ws_url, secret, "graphql-ws") as updates_ws,
            ):
                events = await live_events(events_ws, publisher, session_id, after=0)
                updates = Stream(updates_ws, UPDATES, {})
                await wait_until_live(updates, probe_update)
                stored = [e["message"]["sequence"] for e in await events.take(per_turn)]
                assert stored == list(range(1, per_turn + 1))  # the first turn's, replayed

                down = time.monotonic()
                redis_server.stop()
                # Open subscriptions are told, with a code (and where to resume from).
                error = await events.error()
                assert error["extensions"] == {
                    "code": "BROKER_UNAVAILABLE", "lastSequence": per_turn}  # fmt: skip
                assert code_of(await updates.error()) == "BROKER_UNAVAILABLE"
                status, body = await readiness(http)
                assert status == 503 and body["checks"] == {
                    "database": "ok", "redis": "unavailable"}  # fmt: skip

                # A subscription started now fails at once with the same code.
                refused = Stream(events_ws, EVENTS, {"id": session_gid, "after": per_turn})
                assert code_of(await refused.error()) == "BROKER_UNAVAILABLE"

            # Mutations work from PostgreSQL: a turn runs without Redis, and `wait: true`
            # answers once it finished (it looks at the turn's row instead of events).
            during = {"sessionId": session_gid, "prompt": "while Redis is down", "wait": True}
            sent = await post(http, secret, SEND, {"input": during})
            assert sent["data"]["sendMessage"]["turn"]["status"] == "COMPLETED", sent
            await eventually(lambda: _count(outcomes, ok=True, after=down) >= 20, what="load")

            redis_server.start()
            up = time.monotonic()
            await wait_ready(http)

            # New subscriptions work again; resuming from lastSequence loses nothing.
            async with ws_client(fail_open.ws_url, secret, "graphql-transport-ws") as ws:
                resumed = await live_events(ws, publisher, session_id, after=per_turn)
                replayed = [e["message"]["sequence"] for e in await resumed.take(per_turn)]
                assert replayed == list(range(per_turn + 1, 2 * per_turn + 1))  # while down
                await post(http, secret, SEND, {"input": {
                    "sessionId": session_gid, "prompt": "after", "ifBusy": "ENQUEUE"}})  # fmt: skip
                live = []
                while len(live) < per_turn:
                    item = await resumed.next(timeout=10)
                    if item["__typename"] == "MessageAdded":
                        live.append(item["message"]["sequence"])
                assert live == list(range(2 * per_turn + 1, 3 * per_turn + 1))
            await eventually(lambda: _count(outcomes, ok=True, after=up) >= 20, what="load")
        finally:
            stop.set()
            await asyncio.gather(*workers)

    # Queries and mutations never failed: rate limits failed open (RATE_LIMIT_FAIL_OPEN=true).
    failed = [o for o in outcomes if not o.ok]
    assert failed == [], failed[:3]
    assert any(down < o.sent and o.done < up for o in outcomes)
    assert "rate limiter storage did not answer" in fail_open.log()
    assert "allowing requests" in fail_open.log()


async def test_rate_limits_fail_closed_while_redis_is_down(fail_closed, redis_server, new_key):
    _, secret = await new_key()
    async with httpx.AsyncClient(base_url=fail_closed.url, timeout=30) as http:
        await wait_ready(http)
        assert not (await post(http, secret, READ)).get("errors")
        redis_server.stop()
        try:
            for query, variables in ((READ, None), (CREATE, {"input": {"title": "refused"}})):
                body = await post(http, secret, query, variables)
                assert body["data"] is None, body
                [error] = body["errors"]
                assert error["extensions"]["code"] == "RATE_LIMITED", body
                assert error["extensions"]["reason"] == "LIMITER_UNAVAILABLE", body
                assert error["extensions"]["retryAfter"] == 1, body
        finally:
            redis_server.start()
        await wait_ready(http)

        async def allowed() -> bool:
            return not (await post(http, secret, READ)).get("errors")

        await eventually(allowed, what="rate limits to be checked again")  # within the 1 s pause
        for _ in range(5):
            assert await allowed()
    assert "refusing requests" in fail_closed.log()


async def live_events(ws: Any, publisher: RedisBroker, session_id: Any, after: int) -> Stream:
    """A started `sessionEvents` subscription (probes until one comes back; the test's own
    publisher may still be reconnecting after a restart: a failed probe is tried again)."""
    stream = events_of(ws, session_id, after)

    async def probe() -> None:
        with contextlib.suppress(BrokerUnavailable):
            await publisher.publish(ev.session_channel(session_id), probe_delta(session_id))

    await wait_until_live(stream, probe)
    return stream


def ev_uuid(global_id: str) -> Any:
    return from_global_id(global_id)[1]


async def _message_count(http: httpx.AsyncClient, secret: str, session_gid: str) -> int:
    node = (await post(http, secret, TURNS, {"id": session_gid}))["data"]["node"]
    return int(node["messages"]["totalCount"])


async def _idle(http: httpx.AsyncClient, secret: str, session_gid: str) -> bool:
    node = (await post(http, secret, TURNS, {"id": session_gid}))["data"]["node"]
    return node["status"] == "IDLE" and node["turns"]["edges"][0]["node"]["status"] == "COMPLETED"
