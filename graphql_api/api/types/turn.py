"""The Turn type: one prompt and everything the agent did until its result."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from graphql_api.api.context import Info
from graphql_api.api.ids import to_global_id
from graphql_api.api.types.enums import TurnStatus
from graphql_api.api.types.node import Connection, Node, child_connection
from graphql_api.api.types.session import Session
from graphql_api.store.messages import MessageRepository

if TYPE_CHECKING:
    from graphql_api.api.types.message import MessageConnection


@strawberry.type(description="One prompt sent to the agent and everything the agent did until its result.")
class Turn(Node):
    id: strawberry.ID
    status: TurnStatus
    prompt: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    cost_usd: float | None
    usage: JSON | None = strawberry.field(
        description="Token usage as reported by the agent (input, output, cache ...)."
    )
    num_turns: int | None
    result: str | None = strawberry.field(description="The agent's final text result.")
    structured_output: JSON | None = strawberry.field(
        description="Structured output, when the session asked for a JSON schema."
    )
    error: str | None
    key: strawberry.Private[UUID]
    session_key: strawberry.Private[UUID]

    @classmethod
    def from_row(cls, row: Any) -> Turn:
        return cls(
            id=strawberry.ID(to_global_id("Turn", row.id)),
            status=TurnStatus[row.status],
            prompt=row.prompt,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            duration_ms=row.duration_ms,
            cost_usd=row.cost_usd,
            usage=row.usage,
            num_turns=row.num_turns,
            result=row.result,
            structured_output=row.structured_output,
            error=row.error,
            key=row.id,
            session_key=row.session_id,
        )

    @strawberry.field
    async def session(self, info: Info) -> Session:
        return Session.from_row(await info.context.loaders.session.load(self.session_key))

    @strawberry.field
    async def messages(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Annotated[MessageConnection, strawberry.lazy("graphql_api.api.types.message")]:
        from graphql_api.api.types.message import Message, MessageConnection

        loaders = info.context.loaders
        return await child_connection(
            MessageConnection, info, list_name="Turn.messages", parent=self.key,
            pages=loaders.turn_messages, counts=loaders.turn_message_count,
            ordering=MessageRepository.ordering, to_node=Message.from_row,
            first=first, after=after,
        )  # fmt: skip


@strawberry.type
class TurnConnection(Connection[Turn]):
    pass
