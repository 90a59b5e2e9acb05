"""Sessions: creating, forking, updating, archiving, deleting, and changing how they run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import select

from graphql_api.agent.backend import AgentFailure, TurnRequest
from graphql_api.agent.runner import TurnRunner
from graphql_api.agent.workspaces import Workspaces
from graphql_api.domain import options as opts
from graphql_api.domain.errors import BadUserInput, NotFound, TurnInProgress
from graphql_api.domain.principal import Principal
from graphql_api.domain.webhook_events import session_archived_payload
from graphql_api.settings import Settings
from graphql_api.store.checkpoints import CheckpointRepository
from graphql_api.store.database import Database
from graphql_api.store.messages import messages_table
from graphql_api.store.scoping import sessions_table
from graphql_api.store.sessions import SessionRepository, SessionWriter
from graphql_api.store.turns import TurnRepository
from graphql_api.store.types import new_id, utcnow

s = sessions_table


@dataclass
class SessionService:
    db: Database
    settings: Settings
    runner: TurnRunner
    workspaces: Workspaces

    async def get(self, principal: Principal, session_id: UUID) -> Any:
        async with self.db.read() as conn:
            row = (await SessionRepository(conn).get_many(principal, [session_id])).get(session_id)
        if row is None:
            raise NotFound("no such session", field="id")
        return row

    async def create(self, principal: Principal, raw: dict[str, Any]) -> Any:
        options = opts.session_options(raw, self.settings)
        session_id = new_id()
        workspace = await self.workspaces.create(session_id)
        now = utcnow()
        values = {
            "id": session_id,
            "owner_key_id": principal.key_id,
            "title": opts.validate_title(raw.get("title")),
            "model": opts.validate_model(raw.get("model")),
            "options": options,
            "metadata": opts.validate_metadata(raw.get("metadata")),
            "workspace": str(workspace),
            "status": "IDLE",
            "created_at": now,
            "updated_at": now,
        }
        async with self.db.transaction() as conn:
            await SessionRepository(conn).insert(values)
        return await self.get(principal, session_id)

    async def update(self, principal: Principal, session_id: UUID, changes: dict[str, Any]) -> Any:
        values: dict[str, Any] = {"updated_at": utcnow()}
        if "title" in changes:
            values["title"] = opts.validate_title(changes["title"])
        if "metadata" in changes:
            values["metadata"] = opts.validate_metadata(changes["metadata"])
        async with self.db.transaction() as conn:
            row = await SessionWriter(conn).update(principal, session_id, values)
        if row is None:
            raise NotFound("no such session", field="input.id")
        return row

    async def archive(self, principal: Principal, session_id: UUID) -> Any:
        async with self.db.transaction() as conn:
            writer = SessionWriter(conn)
            current = await writer.get_for_update(principal, session_id)
            if current is None:
                raise NotFound("no such session", field="input.id")
            if current.status == "ARCHIVED":
                return current
            if current.status == "RUNNING" or await TurnRepository(conn).has_queued(session_id):
                raise TurnInProgress("the session has a turn running or queued; interrupt it first")
            row = await writer.update(
                principal, session_id, {"status": "ARCHIVED", "updated_at": utcnow()},
                when=s.c.status == "IDLE",
            )  # fmt: skip
            if row is None:
                raise TurnInProgress("a turn started meanwhile")
            await self.runner.outbox(conn, row, "SESSION_ARCHIVED", session_archived_payload(row))
        await self.runner.publisher.status_changed(row)
        return row

    async def delete(self, principal: Principal, session_id: UUID) -> None:
        """Everything of the session goes; a running turn is interrupted first."""
        session = await self.get(principal, session_id)
        async with self.db.read() as conn:
            running = await TurnRepository(conn).is_running(session_id)
        if running:
            await self.runner.send_command(session_id, {"type": "interrupt"})
            deadline = asyncio.get_running_loop().time() + self.settings.interrupt_grace_seconds + 5
            while running and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
                async with self.db.read() as conn:
                    running = await TurnRepository(conn).is_running(session_id)
        async with self.db.transaction() as conn:
            deleted = await SessionWriter(conn).delete(principal, session_id)
        if not deleted:
            raise NotFound("no such session", field="input.id")
        await self.workspaces.remove(session.workspace)

    async def fork(
        self, principal: Principal, session_id: UUID, title: str | None, turn_id: UUID | None
    ) -> Any:
        parent = await self.get(principal, session_id)
        resume_at = None
        if turn_id is not None:
            resume_at = await self._last_message_uuid_of(parent.id, turn_id)
        if parent.agent_session_id is None:
            raise BadUserInput("the session has no finished turn to fork from", field="input.sessionId")
        fork_id = new_id()
        workspace = await self.workspaces.copy(parent.workspace, fork_id)
        now = utcnow()
        values = {
            "id": fork_id,
            "owner_key_id": parent.owner_key_id,
            "parent_id": parent.id,
            "title": opts.validate_title(title) if title is not None else f"{parent.title or 'Session'} (fork)",
            "model": parent.model,
            "options": parent.options,
            "metadata": parent.metadata,
            "workspace": str(workspace),
            "status": "IDLE",
            "fork_source_agent_session_id": parent.agent_session_id,
            "fork_at_message_uuid": resume_at,
            "created_at": now,
            "updated_at": now,
        }
        async with self.db.transaction() as conn:
            await SessionRepository(conn).insert(values)
        return await self.get(principal, fork_id)

    async def _last_message_uuid_of(self, session_id: UUID, turn_id: UUID) -> str:
        async with self.db.read() as conn:
            turn = await TurnRepository(conn).get(turn_id)
            if turn is None or turn.session_id != session_id:
                raise NotFound("no such turn in this session", field="input.turnId")
            if turn.status not in ("COMPLETED", "INTERRUPTED"):
                raise BadUserInput("fork from a finished turn", field="input.turnId")
            m = messages_table
            stmt = (
                select(m.c.uuid)
                .where(m.c.turn_id == turn_id, m.c.uuid.is_not(None), m.c.role == "ASSISTANT")
                .order_by(m.c.sequence.desc())
                .limit(1)
            )
            found = (await conn.execute(stmt)).scalar()
        if found is None:
            raise BadUserInput("that turn has no agent message to fork at", field="input.turnId")
        return found

    async def set_permission_mode(self, principal: Principal, session_id: UUID, mode: str) -> Any:
        opts.validate_permission_mode(mode, self.settings, "input.mode")
        current = await self.get(principal, session_id)
        options = {**(current.options or {}), "permissionMode": mode}
        row = await self._write(principal, session_id, {"options": options})
        await self._tell_running_turn(session_id, {"type": "set_permission_mode", "mode": mode})
        return row

    async def set_model(self, principal: Principal, session_id: UUID, model: str) -> Any:
        opts.validate_model(model)
        row = await self._write(principal, session_id, {"model": model})
        await self._tell_running_turn(session_id, {"type": "set_model", "model": model})
        return row

    async def _write(self, principal: Principal, session_id: UUID, values: dict[str, Any]) -> Any:
        async with self.db.transaction() as conn:
            row = await SessionWriter(conn).update(
                principal, session_id, {**values, "updated_at": utcnow()}
            )
        if row is None:
            raise NotFound("no such session", field="input.sessionId")
        return row

    async def _tell_running_turn(self, session_id: UUID, command: dict[str, Any]) -> None:
        async with self.db.read() as conn:
            running = await TurnRepository(conn).is_running(session_id)
        if running:
            await self.runner.send_command(session_id, command)

    async def rewind_files(self, principal: Principal, session_id: UUID, checkpoint_id: UUID) -> tuple[Any, Any]:
        """Return the workspace's files to their state at a checkpoint (SDK rewind_files)."""
        session = await self.get(principal, session_id)
        async with self.db.read() as conn:
            checkpoint = (await CheckpointRepository(conn).get_many(principal, [checkpoint_id])).get(checkpoint_id)
        if checkpoint is None or checkpoint.session_id != session.id:
            raise NotFound("no such checkpoint in this session", field="input.checkpointId")
        if session.agent_session_id is None:
            raise BadUserInput("the session has no agent session to rewind", field="input.sessionId")
        # Hold the session like a turn does, so no turn starts while files move.
        async with self.db.transaction() as conn:
            held = await SessionWriter(conn).update(
                principal, session_id, {"status": "RUNNING", "updated_at": utcnow()},
                when=s.c.status == "IDLE",
            )  # fmt: skip
            if held is None:
                raise TurnInProgress("wait for the running turn to finish before rewinding")
        try:
            request = TurnRequest(
                session_id=str(session.id), turn_id="", prompt="", images=[],
                options=dict(session.options or {}), model=session.model,
                workspace=Path(session.workspace or self.workspaces.path(session.id)),
                resume=session.agent_session_id,
            )  # fmt: skip
            try:
                await self.runner.backend.rewind_files(request, checkpoint.user_message_uuid)
            except AgentFailure as failure:
                raise BadUserInput(str(failure), field="input.checkpointId") from None
        finally:
            async with self.db.transaction() as conn:
                session = await SessionWriter(conn).update(
                    None, session_id, {"status": "IDLE", "updated_at": utcnow()},
                    when=s.c.status == "RUNNING",
                )  # fmt: skip
            self.runner.wake()
        return session, checkpoint
