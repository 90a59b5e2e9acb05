"""Turns: sending messages (with a strategy for a busy session), interrupting, waiting."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from graphql_api.agent.runner import TurnRunner
from graphql_api.broker import EventBroker
from graphql_api.domain import events as ev
from graphql_api.domain import options as opts
from graphql_api.domain.errors import (
    BadUserInput,
    BrokerUnavailable,
    NotFound,
    ServiceUnavailable,
    ShuttingDown,
    TurnInProgress,
)
from graphql_api.domain.principal import Principal
from graphql_api.settings import Settings
from graphql_api.store.database import Database
from graphql_api.store.sessions import SessionRepository, SessionWriter
from graphql_api.store.turns import TurnRepository
from graphql_api.store.types import new_id, utcnow

BUSY_STRATEGIES = ("REJECT", "ENQUEUE", "INTERRUPT")
#: `sendMessage(wait: true)` without the broker: how often the turn's row is looked at.
WAIT_POLL_SECONDS = 0.5
_NO_EVENTS = object()


@dataclass
class TurnService:
    db: Database
    broker: EventBroker
    settings: Settings
    runner: TurnRunner

    def ensure_accepting(self) -> None:
        """SHUTTING_DOWN once this instance drains: it starts no more turns."""
        if not self.runner.accepting:
            raise ShuttingDown("the server is shutting down; retry on another instance")

    async def send_message(
        self,
        principal: Principal,
        session_id: UUID,
        prompt: str,
        images: list[opts.ImageSpec] | None = None,
        if_busy: str = "REJECT",
        wait: bool = False,
    ) -> tuple[Any, Any]:
        """Queue a turn and start it now if the session is free; (session, turn) rows."""
        self.ensure_accepting()
        opts.validate_prompt(prompt, self.settings)
        blocks = opts.image_blocks(images or [], self.settings)
        finished = await self._watch(session_id) if wait else None
        try:
            reserved = False
            try:
                async with self.db.transaction() as conn:
                    session = await SessionWriter(conn).get_for_update(principal, session_id)
                    if session is None:
                        raise NotFound("no such session", field="input.sessionId")
                    if session.status == "ARCHIVED":
                        raise BadUserInput("the session is archived and takes no new messages", field="input.sessionId")
                    turns = TurnRepository(conn)
                    busy = session.status == "RUNNING" or await turns.has_queued(session_id)
                    if busy and if_busy == "REJECT":
                        raise TurnInProgress("a turn is running; send with ifBusy ENQUEUE or INTERRUPT")
                    now = utcnow()
                    values = {
                        "id": new_id(), "session_id": session_id, "status": "QUEUED",
                        "prompt": prompt, "images": blocks or None, "created_at": now,
                    }  # fmt: skip
                    # An idle session's turn starts here and now when this instance has room
                    # (the session row is locked, so nothing else can claim it meanwhile);
                    # otherwise it queues for whichever instance's dispatcher has room first.
                    reserved = not busy and self.runner.reserve()
                    if reserved:
                        values.update(self.runner.claim_values(now))
                    turn = await turns.insert(values)
                    if reserved:
                        session = await SessionWriter(conn).update(
                            None, session_id, {"status": "RUNNING", "updated_at": now}
                        )
            except BaseException:
                if reserved:
                    self.runner.release()
                raise
            if reserved:
                self.runner.launch_reserved(turn, session)
            else:
                self.runner.wake()
            if busy and if_busy == "INTERRUPT":
                await self.runner.send_command(session_id, {"type": "interrupt"})
            if finished is not None:
                await self._wait_for(finished, turn.id)
            return await self._reload(principal, session_id, turn.id)
        finally:
            if finished is not None and finished is not _NO_EVENTS:
                await finished.close()

    async def _watch(self, session_id: UUID) -> Any:
        """The session's events for `wait: true`; without a broker (Redis down) the wait looks
        at the turn's row instead, so the mutation still works."""
        try:
            return await self.broker.subscribe(ev.session_channel(session_id))
        except BrokerUnavailable:
            return _NO_EVENTS

    async def _wait_for(self, subscription: Any, turn_id: UUID) -> None:
        """Until the turn's TurnFinished event, bounded by the wait limit."""
        wanted = str(turn_id)

        async def finished() -> None:
            if subscription is not _NO_EVENTS:
                try:
                    async for event in subscription:
                        if event.get("type") == ev.TURN_FINISHED and event["turn"]["id"] == wanted:
                            return
                except BrokerUnavailable:
                    pass  # the broker went away meanwhile
            while True:  # no events: look at the row
                await asyncio.sleep(WAIT_POLL_SECONDS)
                with contextlib.suppress(ServiceUnavailable):
                    async with self.db.read() as conn:
                        turn = await TurnRepository(conn).get(turn_id)
                    if turn is None or turn.status not in ("QUEUED", "RUNNING"):
                        return

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.wait_timeout_seconds):
                await finished()

    async def _reload(self, principal: Principal, session_id: UUID, turn_id: UUID) -> tuple[Any, Any]:
        async with self.db.read() as conn:
            session = (await SessionRepository(conn).get_many(principal, [session_id]))[session_id]
            turn = await TurnRepository(conn).get(turn_id)
        return session, turn

    async def interrupt(self, principal: Principal, session_id: UUID) -> tuple[Any, Any | None]:
        """Interrupt the running turn, wherever it runs; its messages so far are kept."""
        async with self.db.read() as conn:
            session = (await SessionRepository(conn).get_many(principal, [session_id])).get(session_id)
            if session is None:
                raise NotFound("no such session", field="input.sessionId")
            running = (await TurnRepository(conn).running_by_session(principal, [session_id])).get(session_id)
        if running is not None:
            await self.runner.send_command(session_id, {"type": "interrupt", "turn_id": str(running.id)})
        return session, running
