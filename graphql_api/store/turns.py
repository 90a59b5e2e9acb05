"""TurnRepository: a session's turns, oldest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Table

from graphql_api.domain.principal import Principal
from graphql_api.store.keyset import Ordering
from graphql_api.store.models import Turn
from graphql_api.store.scoping import owned_children
from graphql_api.store.session_children import SessionChildRepository

turns_table: Table = Turn.__table__  # type: ignore[assignment]


class TurnRepository(SessionChildRepository):
    table = turns_table
    ordering = Ordering((turns_table.c.created_at, turns_table.c.id))

    async def running_by_session(
        self, principal: Principal, session_ids: Sequence[UUID]
    ) -> dict[UUID, Any]:
        """The RUNNING turn of each session, if any (at most one runs per session)."""
        stmt = owned_children(self.table, principal).where(
            self.table.c.session_id.in_(session_ids), self.table.c.status == "RUNNING"
        )
        return {row.session_id: row for row in (await self.conn.execute(stmt)).all()}
