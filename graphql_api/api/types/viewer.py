"""The caller's own key and totals, and what the server is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from graphql_api.api.ids import to_global_id
from graphql_api.api.types.node import Node


@strawberry.type
class ApiKey(Node):
    id: strawberry.ID
    name: str
    is_admin: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    prefix: str = strawberry.field(description="The first characters of the secret, to tell keys apart.")

    @classmethod
    def from_row(cls, row: Any) -> ApiKey:
        return cls(
            id=strawberry.ID(to_global_id("ApiKey", row.id)),
            name=row.name,
            is_admin=row.is_admin,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            prefix=row.prefix,
        )


@strawberry.type
class Viewer:
    api_key: ApiKey
    total_cost_usd: float = strawberry.field(description="Sum of totalCostUsd over the sessions this key owns.")
    session_count: int


@strawberry.type
class ServerInfo:
    version: str
    agent_backend: str = strawberry.field(
        description='Which agent backend runs turns: "claude" (the Claude Agent SDK) or "demo" (offline, scripted).'
    )
