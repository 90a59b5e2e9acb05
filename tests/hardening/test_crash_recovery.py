"""Crash recovery: a running turn holds a lease its instance renews; when the instance dies,
another marks the turn FAILED ("instance lost") and frees the session. An instance never
expires the turns it runs itself, even when their renewal came late."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from graphql_api.agent.execution import TurnExecution
from graphql_api.api.ids import from_global_id
from graphql_api.domain.api_keys import ApiKeyService
from graphql_api.store.database import Database
from graphql_api.store.migrate import upgrade_to_head
from graphql_api.store.scoping import sessions_table
from graphql_api.store.turns import TurnRepository, turns_table
from graphql_api.store.types import new_id, utcnow
from tests.agent.helpers import create_session, send, settle, state, texts, wait_for
from tests.agent_doubles import standin_cli_path
from tests.conftest import TEST_ROOT, create_pg_database, drop_pg_database
from tests.hardening.server_api import Api
from tests.live import REDIS_URL, channel_prefix
from tests.live import create_session as insert_session
from tests.servers import ServerProcess

LONG = "!slow 400 0.05"  # 20 s: far longer than the lease


# ------------------------------------------------------------ one instance, late renewals


async def test_a_turn_another_instance_ended_is_stopped_here(graphql, services, new_key):
    """This instance stalled past its lease and another one expired its turn and freed the
    session: at its next lease upkeep it stops the turn instead of writing on."""
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client)
    started = await send(client, sid, LONG)
    turn_id = from_global_id(started["turn"]["id"])[1]
    session_key = from_global_id(sid)[1]

    async def running_here() -> bool:
        return session_key in services.runner.running

    await wait_for(running_here)
    async with services.db.transaction() as conn:  # what the other instance's reaper does
        lost = await TurnRepository(conn).expire_lost(utcnow() + timedelta(hours=1))
        await conn.execute(
            update(sessions_table).where(sessions_table.c.id == session_key).values(status="IDLE")
        )
    assert [turn.id for turn in lost] == [turn_id]

    await services.runner.reap()

    async def stopped() -> bool:
        return session_key not in services.runner.running

    await wait_for(stopped)
    async with services.db.read() as conn:
        turn = (await conn.execute(select(turns_table).where(turns_table.c.id == turn_id))).one()
    assert (turn.status, turn.error) == ("FAILED", "instance lost")  # not overwritten here
    assert (await state(client, sid))["status"] == "IDLE"


async def test_reap_never_expires_the_turns_this_instance_runs(graphql, services, new_key):
    """`services` is the instance under test (the only one running turns in this process)."""
    key_id, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client)
    started = await send(client, sid, LONG)
    assert started["turn"]["status"] == "RUNNING"
    own_turn = from_global_id(started["turn"]["id"])[1]

    async def running_here() -> bool:
        return from_global_id(sid)[1] in services.runner.running

    await wait_for(running_here)

    # Its renewal came late: the lease in the database has run out although the turn runs here.
    past = utcnow() - timedelta(seconds=5)
    async with services.db.transaction() as conn:
        await conn.execute(
            update(turns_table).where(turns_table.c.id == own_turn).values(lease_expires_at=past)
        )
    # Meanwhile a turn whose instance really is gone, in a session left RUNNING.
    gone = await insert_session(services.db, key_id, title="orphan")
    gone_turn = new_id()
    async with services.db.transaction() as conn:
        await conn.execute(
            update(sessions_table).where(sessions_table.c.id == gone.id).values(status="RUNNING")
        )
        await conn.execute(
            insert(turns_table).values(
                id=gone_turn, session_id=gone.id, status="RUNNING", prompt="hi",
                created_at=past, started_at=past, instance_id="gone:1:0", lease_expires_at=past,
            )
        )  # fmt: skip

    await services.runner.reap()

    async with services.db.read() as conn:
        turns = {
            row.id: row
            for row in await conn.execute(
                select(turns_table).where(turns_table.c.id.in_([own_turn, gone_turn]))
            )
        }
        orphan = (
            await conn.execute(select(sessions_table).where(sessions_table.c.id == gone.id))
        ).one()
    assert turns[own_turn].status == "RUNNING"
    assert turns[own_turn].lease_expires_at > utcnow()  # renewed, not expired
    assert (turns[gone_turn].status, turns[gone_turn].error) == ("FAILED", "instance lost")
    assert orphan.status == "IDLE"

    # The expiry itself leaves out the turns it is told the caller runs.
    async with services.db.transaction() as conn:
        await conn.execute(
            update(turns_table).where(turns_table.c.id == own_turn).values(lease_expires_at=past)
        )
        expired = await TurnRepository(conn).expire_lost(utcnow(), keep=[own_turn])
        assert own_turn not in {row.id for row in expired}
        assert (await TurnRepository(conn).get(own_turn)).status == "RUNNING"

    await client.data(
        "mutation($id: ID!) { interrupt(input: {sessionId: $id}) { session { id } } }", {"id": sid}
    )
    final = await settle(client, sid)
    assert final["turns"]["edges"][0]["node"]["status"] == "INTERRUPTED"


async def test_a_turn_recording_its_own_end_is_not_taken_for_one_ended_elsewhere(
    graphql, services, new_key, monkeypatch, caplog
):
    """Lease upkeep that runs while a turn records its own outcome (its row no longer RUNNING,
    its task not yet done) leaves it alone: the turn ended here, not on another instance."""
    _, secret = await new_key()
    client = graphql(secret)
    sid = await create_session(client)
    reaped: list[tuple[str, bool]] = []
    finish = TurnExecution._finish

    async def finish_then_reap(self: TurnExecution, *args: Any) -> None:
        await finish(self, *args)
        async with services.db.read() as conn:
            row = (await conn.execute(select(turns_table).where(turns_table.c.id == self.turn.id))).one()
        await services.runner.reap()  # this instance's upkeep, right after the row left RUNNING
        reaped.append((row.status, self.interrupt_requested))

    monkeypatch.setattr(TurnExecution, "_finish", finish_then_reap)
    async def reaped_after_finish() -> bool:
        return bool(reaped)  # the session reads IDLE as soon as the finish commits, before this

    with caplog.at_level(logging.WARNING, logger="graphql_api.agent.runner"):
        await send(client, sid, "hello")
        final = await settle(client, sid)
        await wait_for(reaped_after_finish)
    assert reaped == [("COMPLETED", False)]  # the upkeep did not interrupt it
    assert final["turns"]["edges"][0]["node"]["status"] == "COMPLETED"
    assert not [r for r in caplog.records if "another instance" in r.getMessage()]


# ------------------------------------------------------------ two instances, one killed

# Two server processes share one database, as instances behind a load balancer do. PostgreSQL
# only: SQLite file sharing between processes is not the deployment model. The database is this
# module's own, so no other instance in the test run (the in-process `services`) reaps its turns.


@pytest.fixture(scope="module")
async def shared_database() -> AsyncIterator[str]:
    name, url = await create_pg_database()
    await upgrade_to_head(url)
    yield url
    await drop_pg_database(name)


@pytest.fixture
async def secret(shared_database: str) -> str:
    db = Database(shared_database)
    try:
        return (await ApiKeyService(db).create("crash-recovery")).secret
    finally:
        await db.dispose()


@pytest.fixture
def instances(shared_database: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {
        "DATABASE_URL": shared_database, "REDIS_URL": REDIS_URL,
        "REDIS_CHANNEL_PREFIX": channel_prefix(), "AGENT_BACKEND": "claude",
        "CLAUDE_CLI_PATH": standin_cli_path(), "WORKSPACE_ROOT": str(TEST_ROOT / "workspaces"),
        "CLAUDE_CONFIG_DIR": str(TEST_ROOT / "claude-config"), "RATE_LIMIT_ENABLED": "false",
        "WEBHOOK_DELIVERY_ENABLED": "false", "TURN_LEASE_SECONDS": "2", "LOG_FORMAT": "text",
    }  # fmt: skip
    a = ServerProcess(env).start()
    try:
        b = ServerProcess(env).start()
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


async def test_a_killed_instances_turn_is_failed_by_another_which_takes_the_session_on(
    instances, secret
):
    a, b = instances
    on_a, on_b = Api(a, secret), Api(b, secret)
    sid = await on_a.create_session()
    first = await on_a.send(sid, "before the crash", wait=True)
    assert first["turn"]["status"] == "COMPLETED"
    long_turn = (await on_a.send(sid, LONG))["turn"]
    assert long_turn["status"] == "RUNNING"

    async def prompt_stored() -> dict[str, Any] | None:
        current = await state(on_a, sid)
        return current if "!slow 400 0.05" in texts(current, "USER") else None

    before = await wait_for(prompt_stored)
    stored = before["messages"]["edges"]

    a.process.kill()  # SIGKILL: no drain, no cleanup, the lease is simply no longer renewed
    a.process.wait()

    async def failed() -> dict[str, Any] | None:
        current = await state(on_b, sid)
        last = current["turns"]["edges"][-1]["node"]
        return current if last["status"] != "RUNNING" else None

    after = await wait_for(failed, timeout=20, interval=0.1)
    lost = after["turns"]["edges"][-1]["node"]
    assert (lost["id"], lost["status"], lost["error"]) == (long_turn["id"], "FAILED", "instance lost")
    assert after["status"] == "IDLE" and after["activeTurn"] is None
    assert f"turn {from_global_id(long_turn['id'])[1]} lost its instance" in b.log()

    # The session takes new messages, through the surviving instance.
    again = await on_b.send(sid, "after the crash", wait=True)
    assert (again["turn"]["status"], again["turn"]["result"]) == (
        "COMPLETED",
        "Echo: after the crash",
    )
    final = await state(on_b, sid)
    edges = final["messages"]["edges"]
    assert edges[: len(stored)] == stored  # everything stored before the kill is still there
    assert [e["node"]["sequence"] for e in edges] == list(range(1, len(edges) + 1))
    assert texts(final, "USER") == ["before the crash", LONG, "after the crash"]
    statuses = [e["node"]["status"] for e in final["turns"]["edges"]]
    assert statuses == ["COMPLETED", "FAILED", "COMPLETED"]
