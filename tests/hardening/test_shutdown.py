"""Graceful shutdown of a real server process (`graphql-api serve`), turns on the stand-in CLI.

On SIGTERM the server keeps serving while it drains: `/readyz` answers 503, new turns are
refused with SHUTTING_DOWN, running turns finish (or are interrupted once
SHUTDOWN_DRAIN_SECONDS ran out), websockets are closed with 1001, and the process exits with
nothing left RUNNING in the database. A second signal cuts the drain short.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select

from graphql_api.api.ids import from_global_id
from graphql_api.store.messages import messages_table
from graphql_api.store.scoping import sessions_table
from graphql_api.store.turns import turns_table
from tests.agent.helpers import CREATE, SEND, wait_for
from tests.agent_doubles import standin_cli_path
from tests.conftest import TEST_ROOT
from tests.hardening.conftest import acknowledged, code_of, send
from tests.hardening.server_api import Api
from tests.servers import ServerProcess

LONG = "!slow 400 0.05"  # 20 s of text deltas: runs past any drain below
EVENTS = """subscription($id: ID!) { sessionEvents(sessionId: $id) {
  __typename ... on TurnFinished { turn { status } } } }"""
SESSION = "query($id: ID!) { session(id: $id) { id status } }"


def server_env(database_url: str, drain_seconds: float) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url, "REDIS_URL": "", "AGENT_BACKEND": "claude",
        "CLAUDE_CLI_PATH": standin_cli_path(), "WORKSPACE_ROOT": str(TEST_ROOT / "workspaces"),
        "CLAUDE_CONFIG_DIR": str(TEST_ROOT / "claude-config"), "RATE_LIMIT_ENABLED": "false",
        "WEBHOOK_DELIVERY_ENABLED": "false", "INTERRUPT_GRACE_SECONDS": "2",
        "SHUTDOWN_DRAIN_SECONDS": str(drain_seconds), "LOG_LEVEL": "INFO", "LOG_FORMAT": "text",
    }  # fmt: skip


@pytest.fixture
def start_server(database_url: str) -> Iterator[Any]:
    """A factory: start_server(drain_seconds) -> a running ServerProcess (killed at the end)."""
    started: list[ServerProcess] = []

    def start(drain_seconds: float) -> ServerProcess:
        started.append(ServerProcess(server_env(database_url, drain_seconds)).start())
        return started[-1]

    yield start
    for server in started:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait()


async def turn_rows(db: Any, session_id: str) -> list[Any]:
    async with db.read() as conn:
        stmt = select(turns_table).where(turns_table.c.session_id == from_global_id(session_id)[1])
        return list((await conn.execute(stmt.order_by(turns_table.c.created_at))).all())


async def nothing_running(db: Any, session_ids: list[str]) -> None:
    """Checked in the tables themselves: no turn and no session of these is RUNNING."""
    keys = [from_global_id(sid)[1] for sid in session_ids]
    turns_of = select(turns_table.c.status).where(turns_table.c.session_id.in_(keys))
    sessions_of = select(sessions_table.c.status).where(sessions_table.c.id.in_(keys))
    async with db.read() as conn:
        turns = (await conn.execute(turns_of)).all()
        sessions = (await conn.execute(sessions_of)).all()
    assert turns and "RUNNING" not in {row.status for row in turns}
    assert {row.status for row in sessions} == {"IDLE"}


async def running_with_output(db: Any, session_id: str) -> bool:
    """The turn runs and the agent has started (its prompt is stored)."""
    turns = await turn_rows(db, session_id)
    if not turns or turns[-1].status != "RUNNING":
        return False
    async with db.read() as conn:
        stmt = select(messages_table.c.id).where(messages_table.c.turn_id == turns[-1].id)
        return (await conn.execute(stmt)).first() is not None


async def readyz(server: ServerProcess) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        return await http.get("/readyz")


async def draining(server: ServerProcess) -> httpx.Response | None:
    response = await readyz(server)
    return response if response.status_code == 503 else None


async def exited(server: ServerProcess, timeout: float) -> str:
    """Once the process exited after a clean shutdown: its log."""
    assert server.process is not None
    deadline = time.monotonic() + timeout
    while server.process.poll() is None:
        assert time.monotonic() < deadline, f"the server did not exit:\n{server.log()}"
        await asyncio.sleep(0.05)
    log = server.log()
    # uvicorn raises the signal it caught again once it stopped: SIGTERM ends the process
    # with that signal (-15), SIGINT is caught as KeyboardInterrupt (0).
    assert server.process.returncode in (0, -signal.SIGTERM), log
    assert "drained" in log and "Application shutdown complete" in log, log
    assert "Traceback" not in log, log
    return log


async def closed_with(ws: Any, timeout: float) -> int | None:
    """Reads until the server closes the websocket; its close code."""
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return ws.close_code


async def subscribed(server: ServerProcess, secret: str, session_id: str) -> Any:
    """A graphql-transport-ws websocket following the session's events."""
    ws = await acknowledged(server, secret)
    subscribe = {"query": EVENTS, "variables": {"id": session_id}}
    await send(ws, {"id": "1", "type": "subscribe", "payload": subscribe})
    return ws


async def test_while_draining_the_server_serves_but_refuses_new_turns(
    start_server, services, new_key
):
    """A drain far longer than the test: the second signal ends it (and the turn) at once."""
    server = start_server(drain_seconds=120)
    _, secret = await new_key()
    api = Api(server, secret)
    busy, other = await api.create_session(), await api.create_session()
    assert (await api.send(busy, LONG))["turn"]["status"] == "RUNNING"
    await wait_for(lambda: running_with_output(services.db, busy))
    ws = await subscribed(server, secret, busy)
    assert (await readyz(server)).status_code == 200

    server.process.send_signal(signal.SIGTERM)

    # Draining: not ready, yet serving; no new turns, here or in a new session.
    response = await wait_for(lambda: draining(server), timeout=5)
    assert response.json()["status"] == "draining"
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        assert (await http.get("/healthz")).status_code == 200
    refused = await api.execute(SEND, {"input": {"sessionId": other, "prompt": "hello"}})
    assert code_of(refused["errors"][0]) == "SHUTTING_DOWN"
    refused = await api.execute(CREATE, {"input": {"title": "late", "prompt": "hello"}})
    assert code_of(refused["errors"][0]) == "SHUTTING_DOWN"
    async with services.db.read() as conn:
        late = select(sessions_table.c.id).where(sessions_table.c.title == "late")
        assert (await conn.execute(late)).first() is None  # refused before it was created
    served = await api.data(SESSION, {"id": busy})
    assert served["session"]["status"] == "RUNNING"  # queries are answered, the turn goes on

    # A second signal: no more waiting (the drain would last 120 s, the turn 20 s).
    server.process.send_signal(signal.SIGINT)
    assert await closed_with(ws, timeout=15) == 1001
    assert "shutdown hurried" in await exited(server, timeout=15)
    [turn] = await turn_rows(services.db, busy)
    assert (turn.status, turn.error) == ("INTERRUPTED", "the server shut down during the turn")
    assert await turn_rows(services.db, other) == []
    await nothing_running(services.db, [busy, other])


async def test_a_turn_still_running_after_the_drain_is_interrupted(
    start_server, services, new_key
):
    server = start_server(drain_seconds=1)
    _, secret = await new_key()
    api = Api(server, secret)
    session = await api.create_session()
    assert (await api.send(session, LONG))["turn"]["status"] == "RUNNING"
    await wait_for(lambda: running_with_output(services.db, session))
    ws = await subscribed(server, secret, session)

    server.process.send_signal(signal.SIGTERM)

    # After the drain the turn is interrupted, the websocket closed with "going away".
    assert await closed_with(ws, timeout=15) == 1001
    log = await exited(server, timeout=15)
    assert "interrupting 1 turns still running after the drain" in log
    [turn] = await turn_rows(services.db, session)
    assert (turn.status, turn.error) == ("INTERRUPTED", "the server shut down during the turn")
    assert turn.finished_at is not None and turn.lease_expires_at is None
    await nothing_running(services.db, [session])


async def test_a_turn_that_ends_within_the_drain_completes(start_server, services, new_key):
    server = start_server(drain_seconds=60)
    _, secret = await new_key()
    api = Api(server, secret)
    session = await api.create_session()
    assert (await api.send(session, "!slow 60 0.05"))["turn"]["status"] == "RUNNING"
    await wait_for(lambda: running_with_output(services.db, session))

    server.process.send_signal(signal.SIGTERM)

    # The drain ends with the turn (3 s): the process exits long before the 60 s are up.
    log = await exited(server, timeout=20)
    assert "draining: 1 running turns" in log
    [turn] = await turn_rows(services.db, session)
    assert (turn.status, turn.error) == ("COMPLETED", None)
    assert turn.result.strip() == "".join(f"chunk {i} " for i in range(60)).strip()  # all of it
    await nothing_running(services.db, [session])
