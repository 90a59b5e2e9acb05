"""The Message type: one persisted message of a session, at its gapless sequence."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from graphql_api.api.context import Info
from graphql_api.api.ids import to_global_id
from graphql_api.api.types.content import ContentBlock, content_blocks
from graphql_api.api.types.enums import MessageRole
from graphql_api.api.types.node import Connection, Node
from graphql_api.api.types.session import Session
from graphql_api.api.types.turn import Turn


@strawberry.type
class Message(Node):
    id: strawberry.ID
    sequence: int = strawberry.field(
        description="Position in the session, strictly increasing from 1, without gaps."
    )
    role: MessageRole
    model: str | None
    parent_tool_use_id: str | None = strawberry.field(
        description="Set on messages produced inside a subagent's tool call."
    )
    created_at: datetime
    raw_content: JSON = strawberry.field(
        description="The content blocks as the agent produced them, including block types "
        "the typed `content` union does not cover."
    )
    session_key: strawberry.Private[UUID]
    turn_key: strawberry.Private[UUID | None]

    @classmethod
    def from_row(cls, row: Any) -> Message:
        return cls(
            id=strawberry.ID(to_global_id("Message", row.id)),
            sequence=row.sequence,
            role=MessageRole[row.role],
            model=row.model,
            parent_tool_use_id=row.parent_tool_use_id,
            created_at=row.created_at,
            raw_content=row.content,
            session_key=row.session_id,
            turn_key=row.turn_id,
        )

    @strawberry.field
    def content(self) -> list[ContentBlock]:
        return content_blocks(self.raw_content)

    @strawberry.field
    async def session(self, info: Info) -> Session:
        return Session.from_row(await info.context.loaders.session.load(self.session_key))

    @strawberry.field
    async def turn(self, info: Info) -> Turn | None:
        if self.turn_key is None:
            return None
        row = await info.context.loaders.turn.load(self.turn_key)
        return Turn.from_row(row) if row is not None else None


@strawberry.type
class MessageConnection(Connection[Message]):
    pass
