"""ToolApprovalRepository: tool uses waiting for a client's decision."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, insert, select, update

from graphql_api.domain.principal import Principal
from graphql_api.store.keyset import Ordering
from graphql_api.store.models import ToolApproval
from graphql_api.store.scoping import owned_children, sessions_table
from graphql_api.store.session_children import SessionChildRepository

approvals_table: Table = ToolApproval.__table__  # type: ignore[assignment]
a = approvals_table


class ToolApprovalRepository(SessionChildRepository):
    table = approvals_table
    ordering = Ordering((approvals_table.c.created_at, approvals_table.c.id))

    async def pending_by_session(
        self, principal: Principal, session_ids: Sequence[UUID]
    ) -> dict[UUID, list[Any]]:
        stmt = (
            owned_children(a, principal)
            .where(a.c.session_id.in_(session_ids), a.c.status == "PENDING")
            .order_by(a.c.created_at, a.c.id)
        )
        found: dict[UUID, list[Any]] = {sid: [] for sid in session_ids}
        for row in (await self.conn.execute(stmt)).all():
            found[row.session_id].append(row)
        return found

    async def insert(self, values: dict[str, Any]) -> Any:
        return (await self.conn.execute(insert(a).values(**values).returning(*a.c))).one()

    async def decide(
        self, principal: Principal | None, approval_id: UUID, values: dict[str, Any]
    ) -> Any | None:
        """PENDING -> decided, once: None when it was not pending (or not the caller's)."""
        stmt = update(a).where(a.c.id == approval_id, a.c.status == "PENDING")
        if principal is not None and principal.owner_filter is not None:
            owned = select(sessions_table.c.id).where(
                sessions_table.c.owner_key_id == principal.owner_filter
            )
            stmt = stmt.where(a.c.session_id.in_(owned))
        return (await self.conn.execute(stmt.values(**values).returning(*a.c))).first()

    async def get(self, approval_id: UUID) -> Any | None:
        return (await self.conn.execute(select(a).where(a.c.id == approval_id))).first()

    async def expire_turn(self, turn_id: UUID, now: datetime) -> None:
        """A finished turn leaves nothing pending."""
        await self.conn.execute(
            update(a)
            .where(a.c.turn_id == turn_id, a.c.status == "PENDING")
            .values(status="EXPIRED", decided_at=now, message="the turn ended before a decision")
        )
