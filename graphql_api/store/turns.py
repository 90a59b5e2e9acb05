"""TurnRepository: a session's turns, oldest first; the queue of turns and their leases."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, exists, insert, select, tuple_, update
from sqlalchemy.orm import aliased

from graphql_api.domain.principal import Principal
from graphql_api.store.keyset import Ordering
from graphql_api.store.models import Turn
from graphql_api.store.scoping import owned_children, sessions_table
from graphql_api.store.session_children import SessionChildRepository

turns_table: Table = Turn.__table__  # type: ignore[assignment]
t = turns_table
s = sessions_table


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

    async def insert(self, values: dict[str, Any]) -> Any:
        return (await self.conn.execute(insert(t).values(**values).returning(*t.c))).one()

    async def get(self, turn_id: UUID) -> Any | None:
        return (await self.conn.execute(select(t).where(t.c.id == turn_id))).first()

    async def update(self, turn_id: UUID, values: dict[str, Any], *, status: str | None = None) -> Any | None:
        """Update a turn, only while it is in `status` when given; the row, or None."""
        stmt = update(t).where(t.c.id == turn_id)
        if status is not None:
            stmt = stmt.where(t.c.status == status)
        return (await self.conn.execute(stmt.values(**values).returning(*t.c))).first()

    async def has_queued(self, session_id: UUID) -> bool:
        stmt = select(exists().where(t.c.session_id == session_id, t.c.status == "QUEUED"))
        return bool((await self.conn.execute(stmt)).scalar())

    async def next_claimable(self, limit: int) -> list[Any]:
        """Queued turns that may start now: each the oldest queued turn of an IDLE session.

        On PostgreSQL the rows are locked with SKIP LOCKED, so instances claiming at the same
        time take different turns and never wait on each other.
        """
        older = aliased(t)
        stmt = (
            select(t.c.id, t.c.session_id)
            .join(s, s.c.id == t.c.session_id)
            .where(
                t.c.status == "QUEUED",
                s.c.status == "IDLE",
                ~exists().where(
                    older.c.session_id == t.c.session_id,
                    older.c.status == "QUEUED",
                    tuple_(older.c.created_at, older.c.id) < tuple_(t.c.created_at, t.c.id),
                ),
            )
            .order_by(t.c.created_at, t.c.id)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=t, skip_locked=True)
        return list((await self.conn.execute(stmt)).all())

    async def renew_leases(
        self, instance_id: str, until: datetime, *, turn_ids: Collection[UUID] | None = None
    ) -> set[UUID]:
        """Extend the leases of `instance_id`'s running turns (only `turn_ids`, when given);
        returns the ids of the turns renewed."""
        stmt = update(t).where(t.c.instance_id == instance_id, t.c.status == "RUNNING")
        if turn_ids is not None:
            stmt = stmt.where(t.c.id.in_(list(turn_ids)))
        result = await self.conn.execute(stmt.values(lease_expires_at=until).returning(t.c.id))
        return set(result.scalars().all())

    async def expire_lost(self, now: datetime, *, keep: Collection[UUID] = ()) -> list[Any]:
        """Mark RUNNING turns whose lease ran out FAILED, except the turns in `keep` (those the
        calling instance is running); returns them."""
        stmt = update(t).where(t.c.status == "RUNNING", t.c.lease_expires_at < now)
        if keep:
            stmt = stmt.where(t.c.id.not_in(list(keep)))
        result = await self.conn.execute(
            stmt.values(status="FAILED", error="instance lost", finished_at=now).returning(*t.c)
        )
        return list(result.all())

    async def end_instance_turns(
        self, instance_id: str, now: datetime, *, status: str, error: str | None
    ) -> list[Any]:
        """End every turn `instance_id` still has RUNNING with `status`; returns them."""
        result = await self.conn.execute(
            update(t)
            .where(t.c.instance_id == instance_id, t.c.status == "RUNNING")
            .values(status=status, error=error, finished_at=now, lease_expires_at=None)
            .returning(*t.c)
        )
        return list(result.all())

    async def is_running(self, session_id: UUID) -> bool:
        stmt = select(exists().where(and_(t.c.session_id == session_id, t.c.status == "RUNNING")))
        return bool((await self.conn.execute(stmt)).scalar())
