"""TurnRunner: claims queued turns (no locks: conditional updates, SKIP LOCKED), runs them in
background tasks that outlive requests and connections, keeps their leases, and frees the
sessions of turns whose instance was lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, exists, or_, update

from graphql_api.agent.backend import AgentBackend
from graphql_api.agent.execution import TurnExecution
from graphql_api.agent.publisher import EventPublisher
from graphql_api.broker import EventBroker
from graphql_api.domain import events as ev
from graphql_api.domain.errors import ServiceUnavailable
from graphql_api.settings import Settings
from graphql_api.store.database import Database
from graphql_api.store.scoping import sessions_table
from graphql_api.store.sessions import SessionWriter
from graphql_api.store.turns import TurnRepository, turns_table
from graphql_api.store.types import utcnow

log = logging.getLogger("graphql_api.agent.runner")

SHUTDOWN_ERROR = "the server shut down during the turn"

#: outbox(conn, session_row, event_type, payload): webhook deliveries in the caller's transaction
Outbox = Callable[[Any, Any, str, dict[str, Any]], Awaitable[None]]


async def no_outbox(conn: Any, session: Any, event_type: str, payload: dict[str, Any]) -> None:
    return None


class TurnRunner:
    def __init__(
        self,
        *,
        db: Database,
        broker: EventBroker,
        backend: AgentBackend,
        settings: Settings,
        instance_id: str,
        outbox: Outbox = no_outbox,
    ) -> None:
        self.db = db
        self.broker = broker
        self.backend = backend
        self.settings = settings
        self.instance_id = instance_id
        self.outbox = outbox
        self.publisher = EventPublisher(broker)
        self.running: dict[UUID, TurnExecution] = {}
        self.accepting = True
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._dispatching = asyncio.Lock()
        self._reserved = 0  # places taken by requests that claim their own turn (reserve())
        self._launched = False  # whether any turn ran here (else stopping has none to record)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.turn_lease_seconds)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self.accepting = True
        self._loops = [
            asyncio.create_task(self._dispatch_loop(), name="turn-dispatch"),
            asyncio.create_task(self._lease_loop(), name="turn-leases"),
        ]

    async def stop(self, drain_seconds: float = 0.0) -> None:
        """Stop taking turns; let running ones finish for `drain_seconds`, then interrupt."""
        self.accepting = False
        if self.running and drain_seconds > 0:
            await asyncio.wait(
                [e.task for e in self.running.values() if e.task], timeout=drain_seconds
            )
        executions = list(self.running.values())
        for execution in executions:
            execution.shutting_down = True
        # All at once, and not awaited one by one: an agent that does not answer its interrupt
        # (or one already cancelled) must not hold up the others; each is ended after the grace.
        interrupts = [asyncio.create_task(e.interrupt()) for e in executions]
        tasks = [e.task for e in executions if e.task]
        if tasks:
            grace = self.settings.interrupt_grace_seconds
            done, pending = await asyncio.wait(tasks, timeout=grace + 1)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        for interrupt in interrupts:
            interrupt.cancel()
        loops, self._loops = self._loops, []
        for loop in loops:
            loop.cancel()
        if loops:
            await asyncio.wait(loops, timeout=5)
        await self._record_abandoned()

    def wake(self) -> None:
        self._wake.set()

    # --- claiming ------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
        while self._loops:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.dispatch()
            except Exception as error:  # noqa: BLE001 - the loop must survive a database hiccup
                _log_loop_failure("dispatching turns failed", error)

    async def dispatch(self) -> int:
        """Start as many queued turns as capacity allows; returns how many started."""
        started = 0
        async with self._dispatching:
            while self.accepting and self._has_room():
                try:
                    claimed = await self._claim_one()
                except _Retry:
                    continue
                if claimed is None:
                    break
                self._launch(*claimed)
                started += 1
        return started

    async def _claim_one(self) -> tuple[Any, Any] | None:
        now = utcnow()
        async with self.db.transaction() as conn:
            turns = TurnRepository(conn)
            for candidate in await turns.next_claimable(limit=5):
                session = await SessionWriter(conn).update(
                    None,
                    candidate.session_id,
                    {"status": "RUNNING", "updated_at": now},
                    when=sessions_table.c.status == "IDLE",
                )
                if session is None:
                    continue
                turn = await turns.update(
                    candidate.id,
                    {
                        "status": "RUNNING",
                        "started_at": now,
                        "instance_id": self.instance_id,
                        "lease_expires_at": now + self.lease,
                    },
                    status="QUEUED",
                )
                if turn is None:  # taken meanwhile: undo the session claim with the transaction
                    raise _Retry
                return turn, session
        return None

    def _has_room(self) -> bool:
        return len(self.running) + self._reserved < self.settings.max_running_turns

    # --- a turn claimed by the request that sent it -----------------------------------------
    # sendMessage on an idle session inserts its turn already RUNNING (claim_values) in its own
    # transaction and launches it right after the commit: no queue round trip, and no wait on
    # the dispatcher's lock while it claims other sessions' turns.

    def reserve(self) -> bool:
        """Take a place for a turn the caller will claim itself; False when there is none."""
        if not self.accepting or not self._has_room():
            return False
        self._reserved += 1
        return True

    def release(self) -> None:
        """Give back a place reserved for a turn that was not claimed after all."""
        self._reserved -= 1
        self.wake()

    def claim_values(self, now: Any) -> dict[str, Any]:
        """The columns of a turn claimed by this instance at `now`."""
        return {
            "status": "RUNNING",
            "started_at": now,
            "instance_id": self.instance_id,
            "lease_expires_at": now + self.lease,
        }

    def launch_reserved(self, turn: Any, session: Any) -> None:
        """Run a turn claimed in a committed transaction, in the place reserve() took."""
        self._reserved -= 1
        self._launch(turn, session)

    def _launch(self, turn: Any, session: Any) -> None:
        self._launched = True
        execution = TurnExecution(runner=self, turn=turn, session=session)
        self.running[session.id] = execution
        execution.task = asyncio.create_task(self._run(execution), name=f"turn-{turn.id}")

    async def _run(self, execution: TurnExecution) -> None:
        try:
            await execution.execute()
        finally:
            self.running.pop(execution.session_id, None)
            self.wake()

    # --- leases and lost instances -------------------------------------------------------

    async def _lease_loop(self) -> None:
        period = max(self.settings.turn_lease_seconds / 3, 0.2)
        while self._loops:
            await asyncio.sleep(period * random.uniform(0.8, 1.0))
            try:
                await self.reap()
            except Exception as error:  # noqa: BLE001
                _log_loop_failure("lease upkeep failed", error)

    async def reap(self) -> int:
        """Renew the leases of the turns running here, then fail turns whose instance stopped
        renewing and free sessions left RUNNING; returns how many turns were lost.

        The turns running here are never expired by their own instance, even when their renewal
        came late (a busy event loop): they are renewed first, in the same transaction, and kept
        out of the expiry."""
        now = utcnow()
        executions = list(self.running.values())
        own = [execution.turn.id for execution in executions]
        renewed: set[UUID] = set()
        async with self.db.transaction() as conn:
            turns = TurnRepository(conn)
            if own:
                renewed = await turns.renew_leases(self.instance_id, now + self.lease, turn_ids=own)
            lost = await turns.expire_lost(now, keep=own)
            lost_sessions = [turn.session_id for turn in lost]
            sessions = await self._free_sessions(conn, lost_sessions, now, stale=True)
        for turn in lost:
            log.warning("turn %s lost its instance %s", turn.id, turn.instance_id)
        await self._stop_taken_over(executions, renewed)
        await self._announce_ended(lost, sessions)
        return len(lost)

    async def _stop_taken_over(self, executions: list[TurnExecution], renewed: set[UUID]) -> None:
        """A turn running here whose row is no longer ours to renew was ended elsewhere (another
        instance expired it while this one stalled past its lease): stop it, so that it adds
        nothing more to a session that has moved on. Its row keeps what the other instance
        recorded (`_finish` only updates a RUNNING turn)."""
        for execution in executions:
            if execution.turn.id in renewed or execution.task is None or execution.task.done():
                continue
            if execution.ending:
                continue  # it is recording its own outcome: its row left RUNNING by its own hand
            if self.running.get(execution.session_id) is not execution:
                continue  # it ended meanwhile
            log.warning("turn %s was ended by another instance; stopping it here", execution.turn.id)
            await execution.interrupt()

    async def _record_abandoned(self) -> None:
        """On stop: turns of this instance still RUNNING in the database (their task ended
        without recording them, e.g. cancelled while closing) become INTERRUPTED."""
        if not self._launched:
            return
        now = utcnow()
        try:
            async with self.db.transaction() as conn:
                ended = await TurnRepository(conn).end_instance_turns(
                    self.instance_id, now, status="INTERRUPTED", error=SHUTDOWN_ERROR
                )
                if not ended:
                    return
                sessions = await self._free_sessions(conn, [turn.session_id for turn in ended], now)
            log.warning("recorded %d abandoned turns as INTERRUPTED", len(ended))
            await self._announce_ended(ended, sessions)
        except Exception:  # noqa: BLE001 - stopping goes on; the lease reaper is the fallback
            log.warning("recording abandoned turns failed", exc_info=True)

    async def _free_sessions(
        self, conn: Any, session_ids: list[UUID], now: Any, *, stale: bool = False
    ) -> list[Any]:
        """Sessions RUNNING without a running turn go back to IDLE: those of `session_ids`,
        and with `stale` any not updated for a lease (left behind by a lost instance)."""
        running_turn = exists().where(
            and_(turns_table.c.session_id == sessions_table.c.id, turns_table.c.status == "RUNNING")
        )
        which = sessions_table.c.id.in_(session_ids)
        if stale:
            which = or_(which, sessions_table.c.updated_at < now - self.lease)
        freed = await conn.execute(
            update(sessions_table)
            .where(sessions_table.c.status == "RUNNING", which, ~running_turn)
            .values(status="IDLE", updated_at=now)
            .returning(*sessions_table.c)
        )
        return list(freed.all())

    async def _announce_ended(self, turns: list[Any], sessions: list[Any]) -> None:
        sequences = {session.id: session.last_sequence for session in sessions}
        for turn in turns:
            await self.publisher.session_event(
                ev.event(
                    ev.TURN_FINISHED,
                    turn.session_id,
                    sequences.get(turn.session_id, 0),
                    turn=ev.row_to_json(turn),
                )
            )
        for session in sessions:
            await self.publisher.status_changed(session)
        if turns or sessions:
            self.wake()

    # --- commands for turns running here or elsewhere -------------------------------------

    async def send_command(self, session_id: UUID, command: dict[str, Any]) -> None:
        await self.publisher.control(session_id, command)


def _log_loop_failure(what: str, error: Exception) -> None:
    """An outage (the database away) is one line per attempt; anything else keeps its traceback."""
    if isinstance(error, ServiceUnavailable):
        log.warning("%s: %s", what, error.message)
    else:
        log.warning(what, exc_info=error)


class _Retry(Exception):
    pass
