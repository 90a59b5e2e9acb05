"""One turn, start to finish: store every message in order, publish every event, answer
tool approvals and commands, and record the outcome on the turn and its session."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from graphql_api.agent.backend import (
    AgentFailure,
    AgentMessage,
    AgentResult,
    AgentRun,
    AgentStarted,
    TextDelta,
    ToolDecision,
    TurnRequest,
)
from sqlalchemy import insert

from graphql_api.domain import events as ev
from graphql_api.domain.webhook_events import (
    tool_approval_requested_payload,
    turn_finished_payload,
)
from graphql_api.store.approvals import ToolApprovalRepository
from graphql_api.store.checkpoints import checkpoints_table
from graphql_api.store.messages import MessageRepository
from graphql_api.store.scoping import sessions_table
from graphql_api.store.sessions import SessionWriter
from graphql_api.store.turns import TurnRepository
from graphql_api.store.types import new_id, utcnow

if TYPE_CHECKING:
    from graphql_api.agent.runner import TurnRunner

log = logging.getLogger("graphql_api.agent.turn")

FILE_TOOLS = {"Write", "Edit", "MultiEdit", "NotebookEdit"}
APPROVAL_RECHECK_SECONDS = 2.0


@dataclass
class TurnExecution:
    runner: TurnRunner
    turn: Any
    session: Any
    run: AgentRun | None = None
    task: asyncio.Task[None] | None = None
    last_sequence: int = 0
    agent_session_id: str | None = None
    result: AgentResult | None = None
    interrupt_requested: bool = False
    shutting_down: bool = False
    #: Set as the turn starts recording its own outcome: from then on its row leaves RUNNING by
    #: this instance's hand, which the lease upkeep must not take for another instance's.
    ending: bool = False
    files_modified: list[str] = field(default_factory=list)
    approvals: dict[UUID, asyncio.Future[Any]] = field(default_factory=dict)
    _control: Any = None
    #: Set once the prompt is stored: tool approvals the agent asks for wait for it, so their
    #: events follow the prompt's.
    _prompt_stored: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def session_id(self) -> UUID:
        return self.session.id

    # --- the turn ------------------------------------------------------------------------

    async def execute(self) -> None:
        runner = self.runner
        publisher = runner.publisher
        status, error = "FAILED", None
        prompt_uuid = str(uuid.uuid4())
        self.last_sequence = self.session.last_sequence
        # The agent's process starts while the turn's own bookkeeping (control channel, events,
        # storing the prompt) runs: starting the CLI takes longer than all of it together, so
        # the turn's first message comes as soon as the agent can give it. Its events are read
        # only once the prompt is stored, so sequences stay in conversation order.
        starting = asyncio.create_task(runner.backend.start(self._request(prompt_uuid)))
        try:
            self._control = await runner.broker.subscribe(ev.control_channel(self.session_id))
        except Exception:  # noqa: BLE001 - broker away (Redis down): run; the follower resubscribes
            log.warning("turn %s starts without its control channel (broker unavailable)", self.turn.id)
        follower = asyncio.create_task(self._follow_commands(self._control))
        try:
            await publisher.session_event(
                ev.event(ev.TURN_STARTED, self.session_id, self.last_sequence, turn=ev.row_to_json(self.turn))
            )
            await publisher.status_changed(self.session)
            await self._store(
                AgentMessage("USER", [{"type": "text", "text": self.turn.prompt}, *(self.turn.images or [])], uuid=prompt_uuid)
            )
            self._prompt_stored.set()
            self.run = await starting
            if self.interrupt_requested:
                await self.run.interrupt()
            async for event in self.run.events():
                await self._handle(event)
            status, error = self._outcome()
        except AgentFailure as failure:
            status, error = ("INTERRUPTED", None) if self.interrupt_requested else ("FAILED", str(failure))
        except asyncio.CancelledError:
            status, error = "INTERRUPTED", None
        except Exception:  # noqa: BLE001 - a turn's failure must never take the server down
            log.exception("turn %s failed", self.turn.id)
            status, error = "FAILED", "internal error while running the turn"
        finally:
            follower.cancel()
            self._prompt_stored.set()  # nothing may wait for it any more
            if self.run is None:  # the bookkeeping failed or the turn was cancelled meanwhile
                self.run = await _abandon(starting)
            if self._control is not None:
                await self._control.close()
            if self.run is not None:
                await asyncio.shield(self.run.close())
            for future in self.approvals.values():
                if not future.done():
                    future.set_result(None)
        if status == "INTERRUPTED" and self.shutting_down:
            error = error or "the server shut down during the turn"
        self.ending = True
        await asyncio.shield(self._finish(status, error, prompt_uuid))

    def _request(self, prompt_uuid: str) -> TurnRequest:
        session = self.session
        fork = session.agent_session_id is None and session.fork_source_agent_session_id is not None
        return TurnRequest(
            session_id=str(session.id),
            turn_id=str(self.turn.id),
            prompt=self.turn.prompt,
            images=list(self.turn.images or []),
            options=dict(session.options or {}),
            model=session.model,
            workspace=Path(session.workspace),
            resume=session.fork_source_agent_session_id if fork else session.agent_session_id,
            fork=fork,
            resume_at=session.fork_at_message_uuid if fork else None,
            source_workspace=(
                Path(session.workspace).parent / str(session.parent_id)
                if fork and session.parent_id
                else None
            ),
            prompt_uuid=prompt_uuid,
            on_approval=self._ask_for_approval,
        )

    async def _handle(self, event: Any) -> None:
        if isinstance(event, TextDelta):
            await self.runner.publisher.session_event(
                ev.event(ev.TEXT_DELTA, self.session_id, self.last_sequence, turn_id=str(self.turn.id), text=event.text)
            )
        elif isinstance(event, AgentMessage):
            for block in event.content:
                if block.get("type") == "tool_use" and block.get("name") in FILE_TOOLS:
                    path = (block.get("input") or {}).get("file_path")
                    if isinstance(path, str) and path not in self.files_modified:
                        self.files_modified.append(path)
            await self._store(event)
        elif isinstance(event, AgentStarted):
            self.agent_session_id = event.agent_session_id
        elif isinstance(event, AgentResult):
            self.result = event
            if event.agent_session_id:
                self.agent_session_id = event.agent_session_id
            text = event.result or ("; ".join(event.errors) if event.errors else event.subtype)
            await self._store(AgentMessage("RESULT", [{"type": "text", "text": text}]))

    def _outcome(self) -> tuple[str, str | None]:
        result = self.result
        if self.interrupt_requested or (result is not None and result.interrupted):
            return "INTERRUPTED", None
        if result is None:
            return "FAILED", "the agent ended without a result"
        if result.is_error:
            return "FAILED", result.result or "; ".join(result.errors) or result.subtype
        return "COMPLETED", None

    async def _store(self, message: AgentMessage) -> None:
        async with self.runner.db.single_statement() as conn:
            row = await MessageRepository(conn).append(
                self.session_id,
                role=message.role,
                content=message.content,
                turn_id=self.turn.id,
                model=message.model,
                parent_tool_use_id=message.parent_tool_use_id,
                uuid=message.uuid,
            )
        self.last_sequence = row.sequence
        await self.runner.publisher.session_event(
            ev.event(ev.MESSAGE_ADDED, self.session_id, row.sequence, message=ev.row_to_json(row))
        )

    # --- approvals and commands ----------------------------------------------------------

    async def _ask_for_approval(
        self, tool_name: str, tool_input: dict[str, Any], tool_use_id: str | None
    ) -> ToolDecision:
        await self._prompt_stored.wait()
        runner = self.runner
        timeout = int((self.session.options or {}).get("approvalTimeoutSeconds") or runner.settings.default_approval_timeout_seconds)
        now = utcnow()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        async with runner.db.transaction() as conn:
            approval = await ToolApprovalRepository(conn).insert(
                {
                    "id": new_id(), "session_id": self.session_id, "turn_id": self.turn.id,
                    "tool_name": tool_name, "tool_use_id": tool_use_id, "input": tool_input,
                    "status": "PENDING", "created_at": now, "expires_at": now + timedelta(seconds=timeout),
                }
            )  # fmt: skip
            await runner.outbox(
                conn, self.session, "TOOL_APPROVAL_REQUESTED", tool_approval_requested_payload(approval)
            )
        self.approvals[approval.id] = future
        await runner.publisher.session_event(
            ev.event(ev.TOOL_APPROVAL_REQUESTED, self.session_id, self.last_sequence, approval=ev.row_to_json(approval))
        )
        try:
            decided = await self._decision(approval.id, future, timeout)
        finally:
            self.approvals.pop(approval.id, None)
        if decided is None:
            decided = await self._expire(approval.id, "the turn was interrupted")
        return ToolDecision(
            allow=decided.status == "ALLOWED",
            message=decided.message or ("denied" if decided.status == "DENIED" else "the approval expired"),
            updated_input=decided.updated_input,
        )

    async def _decision(self, approval_id: UUID, future: asyncio.Future[Any], timeout: float) -> Any:
        """The decided row: announced over the control channel, or, should that message be
        lost (broker restart), found by looking at the row every few seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return await self._expire(approval_id, f"no decision within {timeout} seconds")
            try:
                async with asyncio.timeout(min(remaining, APPROVAL_RECHECK_SECONDS)):
                    return await asyncio.shield(future)
            except TimeoutError:
                async with self.runner.db.read() as conn:
                    row = await ToolApprovalRepository(conn).get(approval_id)
                if row is not None and row.status != "PENDING":
                    return row

    async def _expire(self, approval_id: UUID, why: str) -> Any:
        async with self.runner.db.transaction() as conn:
            repo = ToolApprovalRepository(conn)
            row = await repo.decide(None, approval_id, {"status": "EXPIRED", "decided_at": utcnow(), "message": why})
            return row if row is not None else await repo.get(approval_id)

    async def _follow_commands(self, control: Any) -> None:
        """Commands for this session's running turn, from any instance, via the broker.

        If the broker connection drops, subscribe again (with a pause) for as long as the turn
        runs: a lost control channel would otherwise lose interrupts and approval answers."""
        channel = ev.control_channel(self.session_id)
        while True:
            if control is not None:  # None: the turn started while the broker was away
                try:
                    async for command in control:
                        try:
                            await self.command(command)
                        except Exception:  # noqa: BLE001
                            log.warning("command %s failed", command.get("type"), exc_info=True)
                except Exception:  # noqa: BLE001 - the broker failed this subscription
                    log.warning("control channel of session %s lost; subscribing again", self.session_id)
                await control.close()
            while True:
                await asyncio.sleep(0.5)
                try:
                    control = await self.runner.broker.subscribe(channel)
                    break
                except Exception:  # noqa: BLE001
                    continue
            self._control = control

    async def command(self, command: dict[str, Any]) -> None:
        kind = command.get("type")
        if kind == "interrupt":
            await self.interrupt()
        elif kind == "approval_decided":
            approval_id = UUID(command["approval_id"])
            future = self.approvals.get(approval_id)
            if future is not None and not future.done():
                async with self.runner.db.read() as conn:
                    row = await ToolApprovalRepository(conn).get(approval_id)
                if not future.done():
                    future.set_result(row)
        elif kind == "set_permission_mode" and self.run is not None:
            await self.run.set_permission_mode(command["mode"])
        elif kind == "set_model" and self.run is not None:
            await self.run.set_model(command.get("model"))

    async def interrupt(self) -> None:
        if self.interrupt_requested:
            return
        self.interrupt_requested = True
        # Armed first: an agent that never answers the interrupt request is ended all the same.
        grace = self.runner.settings.interrupt_grace_seconds
        asyncio.get_running_loop().call_later(grace, self._force_stop)
        for future in self.approvals.values():
            if not future.done():
                future.set_result(None)
        if self.run is not None:
            try:
                await self.run.interrupt()
            except Exception:  # noqa: BLE001 - a dead process is interrupted enough
                log.debug("interrupt failed", exc_info=True)

    def _force_stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    # --- the outcome ---------------------------------------------------------------------

    async def _finish(self, status: str, error: str | None, prompt_uuid: str | None) -> None:
        runner, result, now = self.runner, self.result, utcnow()
        cost = result.cost_usd if result and result.cost_usd is not None else None
        async with runner.db.transaction() as conn:
            turn = await TurnRepository(conn).update(
                self.turn.id,
                {
                    "status": status, "finished_at": now, "error": error,
                    "duration_ms": result.duration_ms if result else None,
                    "cost_usd": cost, "usage": result.usage if result else None,
                    "num_turns": result.num_turns if result else None,
                    "result": result.result if result and not result.is_error else None,
                    "structured_output": result.structured_output if result else None,
                    "lease_expires_at": None,
                },
                status="RUNNING",
            )  # fmt: skip
            if turn is None:
                return  # already ended by the reaper: it freed the session too
            await ToolApprovalRepository(conn).expire_turn(self.turn.id, now)
            values: dict[str, Any] = {
                "status": "IDLE",
                "updated_at": now,
                "total_turns": sessions_table.c.total_turns + (1 if status == "COMPLETED" else 0),
                "total_cost_usd": sessions_table.c.total_cost_usd + (cost or 0.0),
            }
            if self.agent_session_id:
                values.update(
                    agent_session_id=self.agent_session_id,
                    fork_source_agent_session_id=None,
                    fork_at_message_uuid=None,
                )
            session = await SessionWriter(conn).update(
                None, self.session_id, values, when=sessions_table.c.status == "RUNNING"
            )
            if (self.session.options or {}).get("enableFileCheckpointing") and prompt_uuid and result:
                await conn.execute(
                    insert(checkpoints_table).values(
                        id=new_id(), session_id=self.session_id, turn_id=self.turn.id,
                        user_message_uuid=prompt_uuid, files_modified=self.files_modified, created_at=now,
                    )
                )  # fmt: skip
            if session is not None:
                await runner.outbox(conn, session, "TURN_FINISHED", turn_finished_payload(turn))
        sequence = session.last_sequence if session is not None else self.last_sequence
        await runner.publisher.session_event(
            ev.event(ev.TURN_FINISHED, self.session_id, sequence, turn=ev.row_to_json(turn))
        )
        if session is not None:
            await runner.publisher.status_changed(session)


async def _abandon(starting: asyncio.Task[AgentRun]) -> AgentRun | None:
    """The run of an agent start the turn no longer waits for, so that it can be closed."""
    if not starting.done():
        starting.cancel()
    try:
        return await asyncio.shield(starting) if not starting.cancelled() else None
    except BaseException:  # noqa: BLE001 - it failed or was cancelled: nothing to close
        return None
