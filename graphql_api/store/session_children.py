"""The rows that belong to a session (turns, messages, checkpoints): one repository shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.domain.principal import Principal
from graphql_api.store.keyset import Ordering, Page, PageSpec, count_children, fetch_child_pages
from graphql_api.store.driver_reads import fetch_owned_by_ids
from graphql_api.store.scoping import children_statement, owned_children, scope_params


class SessionChildRepository:
    """Batched, owner-scoped reads of one child table; subclasses name the table and order."""

    table: ClassVar[Table]
    ordering: ClassVar[Ordering]

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get_many(self, principal: Principal, ids: Sequence[Any]) -> dict[Any, Any]:
        return {row.id: row for row in await fetch_owned_by_ids(self.conn, self.table, principal, ids)}

    async def pages_by_session(
        self, principal: Principal, session_ids: Sequence[UUID], spec: PageSpec
    ) -> dict[UUID, Page]:
        return await self.pages_by(principal, "session_id", session_ids, spec)

    async def pages_by(
        self, principal: Principal, parent_key: str, parent_ids: Sequence[Any], spec: PageSpec
    ) -> dict[Any, Page]:
        return await fetch_child_pages(
            self.conn,
            children_statement(self.table, principal.owner_filter is not None),
            scope_params(principal),
            self.table.c[parent_key],
            parent_ids,
            self.ordering,
            spec,
        )

    async def counts_by(
        self, principal: Principal, parent_key: str, parent_ids: Sequence[Any]
    ) -> dict[Any, int]:
        return await count_children(
            self.conn, owned_children(self.table, principal), self.table.c[parent_key], parent_ids
        )
