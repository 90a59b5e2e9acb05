"""The ToolApproval type: a tool use waiting for a client's decision."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from graphql_api.api.context import Info
from graphql_api.api.ids import to_global_id
from graphql_api.api.types.node import Node
from graphql_api.api.types.session import Session
from graphql_api.api.types.turn import Turn


@strawberry.enum
class ToolApprovalStatus(Enum):
    PENDING = "PENDING"
    ALLOWED = "ALLOWED"
    DENIED = "DENIED"
    EXPIRED = strawberry.enum_value(
        "EXPIRED",
        description="No decision came before the session's approval timeout; the tool use was denied.",
    )


@strawberry.type(
    description="The agent asked to use a tool that its permission mode does not allow on its\n"
    "own (this includes AskUserQuestion). The turn waits until a client decides."
)
class ToolApproval(Node):
    id: strawberry.ID
    tool_name: str
    tool_use_id: str | None
    input: JSON
    status: ToolApprovalStatus
    message: str | None = strawberry.field(description="Why it was denied, or the decider's note.")
    updated_input: JSON | None = strawberry.field(
        description="The input the tool ran with instead, when the decider replaced it."
    )
    created_at: datetime
    decided_at: datetime | None
    expires_at: datetime | None = strawberry.field(
        description="When a pending approval expires (denied) without a decision."
    )
    session_key: strawberry.Private[UUID]
    turn_key: strawberry.Private[UUID]

    @classmethod
    def from_row(cls, row: Any) -> ToolApproval:
        return cls(
            id=strawberry.ID(to_global_id("ToolApproval", row.id)),
            tool_name=row.tool_name,
            tool_use_id=row.tool_use_id,
            input=row.input,
            status=ToolApprovalStatus[row.status],
            message=row.message,
            updated_input=row.updated_input,
            created_at=row.created_at,
            decided_at=row.decided_at,
            expires_at=row.expires_at,
            session_key=row.session_id,
            turn_key=row.turn_id,
        )

    @strawberry.field
    async def session(self, info: Info) -> Session:
        return Session.from_row(await info.context.loaders.session.load(self.session_key))

    @strawberry.field
    async def turn(self, info: Info) -> Turn:
        return Turn.from_row(await info.context.loaders.turn.load(self.turn_key))
