"""The Session type: a conversation with a Claude agent, and its child lists."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from graphql_api.api.context import Info
from graphql_api.api.ids import to_global_id
from graphql_api.api.types.enums import SessionStatus
from graphql_api.api.types.node import Connection, Node, child_connection
from graphql_api.store.checkpoints import CheckpointRepository
from graphql_api.store.messages import MessageRepository
from graphql_api.store.sessions import FORK_ORDERING
from graphql_api.store.turns import TurnRepository

if TYPE_CHECKING:
    from graphql_api.api.types.approval import ToolApproval
    from graphql_api.api.types.checkpoint import CheckpointConnection
    from graphql_api.api.types.message import MessageConnection
    from graphql_api.api.types.turn import Turn, TurnConnection

_MESSAGE = "graphql_api.api.types.message"
_TURN = "graphql_api.api.types.turn"
_CHECKPOINT = "graphql_api.api.types.checkpoint"


@strawberry.type(description="A conversation with a Claude agent. Owned by the API key that created it.")
class Session(Node):
    id: strawberry.ID
    title: str | None
    status: SessionStatus
    model: str | None
    created_at: datetime
    updated_at: datetime
    metadata: JSON | None
    options: JSON = strawberry.field(
        description="Options the agent runs with (tools, permission mode, limits, system prompt ...)."
    )
    total_turns: int = strawberry.field(description="Number of completed turns.")
    total_cost_usd: float = strawberry.field(
        description="Sum of the cost of all turns, in US dollars, as reported by the agent."
    )
    agent_session_id: str | None = strawberry.field(
        description="The Claude Code session id behind this session (used to resume and fork it)."
    )
    last_sequence: int = strawberry.field(
        description="Sequence of the newest persisted message (0 when there is none)."
    )
    key: strawberry.Private[UUID]
    parent_key: strawberry.Private[UUID | None]

    @classmethod
    def from_row(cls, row: Any) -> Session:
        return cls(
            id=strawberry.ID(to_global_id("Session", row.id)),
            title=row.title,
            status=SessionStatus[row.status],
            model=row.model,
            created_at=row.created_at,
            updated_at=row.updated_at,
            metadata=row.metadata,
            options=row.options,
            total_turns=row.total_turns,
            total_cost_usd=row.total_cost_usd,
            agent_session_id=row.agent_session_id,
            last_sequence=row.last_sequence,
            key=row.id,
            parent_key=row.parent_id,
        )

    @strawberry.field(description="The session this one was forked from.")
    async def parent(self, info: Info) -> Session | None:
        if self.parent_key is None:
            return None
        row = await info.context.loaders.session.load(self.parent_key)
        return Session.from_row(row) if row is not None else None

    @strawberry.field
    async def forks(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SessionConnection:
        loaders = info.context.loaders
        return await child_connection(
            SessionConnection, info, list_name="Session.forks", parent=self.key,
            pages=loaders.session_forks, counts=loaders.session_fork_count,
            ordering=FORK_ORDERING, to_node=Session.from_row,
            first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="Messages in conversation order (oldest first).")
    async def messages(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Annotated[MessageConnection, strawberry.lazy(_MESSAGE)]:
        from graphql_api.api.types.message import Message, MessageConnection

        loaders = info.context.loaders
        return await child_connection(
            MessageConnection, info, list_name="Session.messages", parent=self.key,
            pages=loaders.session_messages, counts=loaders.session_message_count,
            ordering=MessageRepository.ordering, to_node=Message.from_row,
            first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="Turns in order (oldest first).")
    async def turns(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Annotated[TurnConnection, strawberry.lazy(_TURN)]:
        from graphql_api.api.types.turn import Turn, TurnConnection

        loaders = info.context.loaders
        return await child_connection(
            TurnConnection, info, list_name="Session.turns", parent=self.key,
            pages=loaders.session_turns, counts=loaders.session_turn_count,
            ordering=TurnRepository.ordering, to_node=Turn.from_row,
            first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="File checkpoints in order (oldest first).")
    async def checkpoints(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Annotated[CheckpointConnection, strawberry.lazy(_CHECKPOINT)]:
        from graphql_api.api.types.checkpoint import Checkpoint, CheckpointConnection

        loaders = info.context.loaders
        return await child_connection(
            CheckpointConnection, info, list_name="Session.checkpoints", parent=self.key,
            pages=loaders.session_checkpoints, counts=loaders.session_checkpoint_count,
            ordering=CheckpointRepository.ordering, to_node=Checkpoint.from_row,
            first=first, after=after, last=last, before=before,
        )  # fmt: skip

    @strawberry.field(description="Tool uses waiting for a decision (see respondToToolApproval).")
    async def pending_approvals(
        self, info: Info
    ) -> list[Annotated[ToolApproval, strawberry.lazy("graphql_api.api.types.approval")]]:
        from graphql_api.api.types.approval import ToolApproval

        rows = await info.context.loaders.pending_approvals.load(self.key)
        return [ToolApproval.from_row(row) for row in rows]

    @strawberry.field(description="The turn now running, if any.")
    async def active_turn(self, info: Info) -> Annotated[Turn, strawberry.lazy(_TURN)] | None:
        from graphql_api.api.types.turn import Turn

        row = await info.context.loaders.active_turn.load(self.key)
        return Turn.from_row(row) if row is not None else None


@strawberry.type
class SessionConnection(Connection[Session]):
    pass
