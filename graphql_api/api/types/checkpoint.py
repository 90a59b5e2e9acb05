"""The Checkpoint type: a point the session's files can be rewound to."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry

from graphql_api.api.context import Info
from graphql_api.api.ids import to_global_id
from graphql_api.api.types.node import Connection, Node
from graphql_api.api.types.session import Session
from graphql_api.api.types.turn import Turn


@strawberry.type(description="A file checkpoint the agent took before a user message; files can be rewound to it.")
class Checkpoint(Node):
    id: strawberry.ID
    user_message_uuid: str
    files_modified: list[str]
    created_at: datetime
    session_key: strawberry.Private[UUID]
    turn_key: strawberry.Private[UUID | None]

    @classmethod
    def from_row(cls, row: Any) -> Checkpoint:
        return cls(
            id=strawberry.ID(to_global_id("Checkpoint", row.id)),
            user_message_uuid=row.user_message_uuid,
            files_modified=list(row.files_modified or []),
            created_at=row.created_at,
            session_key=row.session_id,
            turn_key=row.turn_id,
        )

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
class CheckpointConnection(Connection[Checkpoint]):
    pass
