"""The Query root: sessions and their pages, nodes by global ID, the viewer, the server."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

import graphql_api
from graphql_api.api.context import Info
from graphql_api.api.ids import expect_global_id, from_global_id
from graphql_api.api.pagination import page_spec
from graphql_api.api.types.approval import ToolApproval
from graphql_api.api.types.checkpoint import Checkpoint
from graphql_api.api.types.enums import SessionOrder, SessionStatus
from graphql_api.api.types.message import Message
from graphql_api.api.types.node import Node, connection_parts
from graphql_api.api.types.session import Session, SessionConnection
from graphql_api.api.types.turn import Turn
from graphql_api.api.types.viewer import ApiKey, ServerInfo, Viewer
from graphql_api.api.types.webhook import Webhook, WebhookDelivery
from graphql_api.domain.errors import BadUserInput
from graphql_api.store.sessions import SESSION_ORDERINGS, SessionFilter, SessionRepository

MAX_NODES = 100


@strawberry.input(name="SessionFilter")
class SessionFilterInput:
    status: list[SessionStatus] | None = None
    parent_id: strawberry.ID | None = strawberry.field(default=None, description="Only forks of this session.")
    title_contains: str | None = strawberry.field(default=None, description="Case-insensitive match on the title.")
    metadata_contains: JSON | None = strawberry.field(
        default=None, description="Sessions whose metadata contains this JSON object."
    )
    created_after: datetime | None = None
    created_before: datetime | None = None

    def to_domain(self) -> SessionFilter:
        if self.metadata_contains is not None and not isinstance(self.metadata_contains, dict):
            raise BadUserInput(
                "metadataContains must be a JSON object", field="filter.metadataContains"
            )
        return SessionFilter(
            status=tuple(s.value for s in self.status) if self.status else None,
            parent_id=(
                expect_global_id(self.parent_id, "Session", field="filter.parentId")
                if self.parent_id is not None
                else None
            ),
            title_contains=self.title_contains,
            metadata_contains=self.metadata_contains,
            created_after=self.created_after,
            created_before=self.created_before,
        )


# type name -> (loader attribute, GraphQL type built from a row)
_NODE_KINDS: dict[str, tuple[str, Any]] = {
    "Session": ("session", Session.from_row),
    "Turn": ("turn", Turn.from_row),
    "Message": ("message", Message.from_row),
    "Checkpoint": ("checkpoint", Checkpoint.from_row),
    "ApiKey": ("api_key", ApiKey.from_row),
    "Webhook": ("webhook", Webhook.from_row),
    "WebhookDelivery": ("webhook_delivery", WebhookDelivery.from_row),
    "ToolApproval": ("approval", ToolApproval.from_row),
}


async def _load_node(info: Info, global_id: str, field: str) -> Node | None:
    type_name, key = from_global_id(global_id, field=field)
    kind = _NODE_KINDS.get(type_name)
    if kind is None:
        return None
    loader_name, build = kind
    row = await getattr(info.context.loaders, loader_name).load(key)
    return build(row) if row is not None else None


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global ID; null when it is not yours or does not exist.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await _load_node(info, id, "id")

    @strawberry.field
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadUserInput(f"at most {MAX_NODES} ids at once", field="ids", max=MAX_NODES)
        return list(await asyncio.gather(*(_load_node(info, i, "ids") for i in ids)))

    @strawberry.field
    async def session(self, info: Info, id: strawberry.ID) -> Session | None:
        key = expect_global_id(id, "Session")
        row = await info.context.loaders.session.load(key)
        return Session.from_row(row) if row is not None else None

    @strawberry.field
    async def sessions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: SessionFilterInput | None = None,
        order_by: SessionOrder | None = SessionOrder.CREATED_AT_DESC,
    ) -> SessionConnection:
        ctx = info.context
        order_by = order_by or SessionOrder.CREATED_AT_DESC
        principal = ctx.principal
        domain_filter = filter.to_domain() if filter is not None else SessionFilter()
        list_name = f"sessions:{order_by.value}"
        spec = page_spec(
            list_name,
            first=first,
            after=after,
            last=last,
            before=before,
            default_size=ctx.settings.default_page_size,
            max_size=ctx.settings.max_page_size,
        )
        db = ctx.services.db
        async with db.read() as conn:
            page = await SessionRepository(conn).page(principal, domain_filter, order_by.value, spec)

        async def count() -> int:
            async with db.read() as conn:
                return await SessionRepository(conn).count(principal, domain_filter)

        edges, page_info = connection_parts(
            page, SESSION_ORDERINGS[order_by.value], list_name, Session.from_row
        )
        return SessionConnection(edges=edges, page_info=page_info, _count=count)

    @strawberry.field
    async def viewer(self, info: Info) -> Viewer:
        principal = info.context.principal
        db = info.context.services.db
        async with db.read() as conn:
            count, cost = await SessionRepository(conn).totals_of_owner(principal.key_id)
        key_row = await info.context.loaders.api_key.load(principal.key_id)
        return Viewer(api_key=ApiKey.from_row(key_row), total_cost_usd=cost, session_count=count)

    @strawberry.field
    def server_info(self, info: Info) -> ServerInfo:
        info.context.principal  # noqa: B018 - authentication required
        return ServerInfo(
            version=graphql_api.__version__,
            agent_backend=info.context.services.agent_backend_name,
        )
