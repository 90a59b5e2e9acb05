"""SessionRepository: the caller's sessions, pages of them, their forks and totals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Table, and_, delete, func, insert, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.domain.principal import Principal
from graphql_api.store.keyset import (
    Ordering,
    Page,
    PageSpec,
    count_children,
    fetch_child_pages,
    fetch_page,
)
from graphql_api.store.driver_reads import fetch_owned_by_ids
from graphql_api.store.scoping import owned_sessions, scope_params, sessions_statement, sessions_table

t: Table = sessions_table

SESSION_ORDERINGS: dict[str, Ordering] = {
    "CREATED_AT_DESC": Ordering((t.c.created_at, t.c.id), descending=True),
    "CREATED_AT_ASC": Ordering((t.c.created_at, t.c.id)),
    "UPDATED_AT_DESC": Ordering((t.c.updated_at, t.c.id), descending=True),
}
FORK_ORDERING = Ordering((t.c.created_at, t.c.id))


@dataclass(frozen=True, slots=True)
class SessionFilter:
    status: tuple[str, ...] | None = None
    parent_id: UUID | None = None
    title_contains: str | None = None
    metadata_contains: dict[str, Any] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


class SessionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get_many(self, principal: Principal, ids: Sequence[UUID]) -> dict[UUID, Any]:
        return {row.id: row for row in await fetch_owned_by_ids(self.conn, t, principal, ids)}

    async def page(
        self, principal: Principal, filter: SessionFilter, order: str, spec: PageSpec
    ) -> Page:
        stmt = owned_sessions(principal).where(*self._conditions(filter))
        return await fetch_page(self.conn, stmt, SESSION_ORDERINGS[order], spec)

    async def count(self, principal: Principal, filter: SessionFilter) -> int:
        stmt = (
            owned_sessions(principal)
            .with_only_columns(func.count())
            .where(*self._conditions(filter))
        )
        return int((await self.conn.execute(stmt)).scalar_one())

    async def fork_pages(
        self, principal: Principal, parent_ids: Sequence[UUID], spec: PageSpec
    ) -> dict[UUID, Page]:
        return await fetch_child_pages(
            self.conn, sessions_statement(principal.owner_filter is not None), scope_params(principal),
            t.c.parent_id, parent_ids, FORK_ORDERING, spec,
        )  # fmt: skip

    async def fork_counts(self, principal: Principal, parent_ids: Sequence[UUID]) -> dict[UUID, int]:
        return await count_children(self.conn, owned_sessions(principal), t.c.parent_id, parent_ids)

    async def totals_of_owner(self, owner_key_id: UUID) -> tuple[int, float]:
        """(session count, summed cost) of the sessions one key owns."""
        stmt = select(func.count(), func.coalesce(func.sum(t.c.total_cost_usd), 0.0)).where(
            t.c.owner_key_id == owner_key_id
        )
        count, cost = (await self.conn.execute(stmt)).one()
        return int(count), float(cost)

    async def insert(self, values: dict[str, Any]) -> None:
        await self.conn.execute(insert(t).values(**values))

    def _conditions(self, filter: SessionFilter) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if filter.status:
            conditions.append(t.c.status.in_(filter.status))
        if filter.parent_id is not None:
            conditions.append(t.c.parent_id == filter.parent_id)
        if filter.title_contains:
            conditions.append(
                func.lower(t.c.title).contains(filter.title_contains.lower(), autoescape=True)
            )
        if filter.created_after is not None:
            conditions.append(t.c.created_at > filter.created_after)
        if filter.created_before is not None:
            conditions.append(t.c.created_at < filter.created_before)
        if filter.metadata_contains:
            conditions.append(self._metadata_contains(filter.metadata_contains))
        return conditions

    def _metadata_contains(self, wanted: dict[str, Any]) -> ColumnElement[bool]:
        if self.conn.dialect.name == "postgresql":
            # JSONB containment, served by the GIN index.
            return t.c.metadata.op("@>")(type_coerce(wanted, JSONB))
        # SQLite: each top-level key must hold an equal JSON value.
        parts: list[ColumnElement[bool]] = []
        for key, value in wanted.items():
            path = '$."' + key.replace('"', '""') + '"'
            extracted = func.json_extract(t.c.metadata, path)
            if isinstance(value, (dict, list)):
                parts.append(func.json(extracted) == func.json(json.dumps(value)))
            elif isinstance(value, bool):
                parts.append(extracted == int(value))
            elif value is None:
                parts.append(func.json_type(t.c.metadata, path) == "null")
            else:
                parts.append(extracted == value)
        return and_(*parts)


class SessionWriter:
    """Writes to sessions; every statement is scoped to the owner (or unscoped for the runner,
    which acts for whoever owns the turn it claimed)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def update(
        self, principal: Principal | None, session_id: UUID, values: dict[str, Any], *, when: Any = None
    ) -> Any | None:
        """Update and return the row; None when it is not the caller's (or `when` is false)."""
        stmt = update(t).where(t.c.id == session_id)
        if principal is not None and principal.owner_filter is not None:
            stmt = stmt.where(t.c.owner_key_id == principal.owner_filter)
        if when is not None:
            stmt = stmt.where(when)
        result = await self.conn.execute(stmt.values(**values).returning(*t.c))
        return result.first()

    async def delete(self, principal: Principal, session_id: UUID) -> bool:
        stmt = delete(t).where(t.c.id == session_id)
        if principal.owner_filter is not None:
            stmt = stmt.where(t.c.owner_key_id == principal.owner_filter)
        return bool((await self.conn.execute(stmt)).rowcount)

    async def get_for_update(self, principal: Principal | None, session_id: UUID) -> Any | None:
        stmt = select(t).where(t.c.id == session_id)
        if principal is not None and principal.owner_filter is not None:
            stmt = stmt.where(t.c.owner_key_id == principal.owner_filter)
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return (await self.conn.execute(stmt)).first()
