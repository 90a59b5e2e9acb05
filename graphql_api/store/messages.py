"""MessageRepository: a session's (or a turn's) messages in sequence order, and appending one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Table, insert, update

from graphql_api.domain.principal import Principal
from graphql_api.store.keyset import Ordering
from graphql_api.store.models import Message
from graphql_api.store.scoping import owned_children, sessions_table
from graphql_api.store.session_children import SessionChildRepository
from graphql_api.store.types import utcnow

messages_table: Table = Message.__table__  # type: ignore[assignment]


class MessageRepository(SessionChildRepository):
    table = messages_table
    # sequence is unique within a session (and so within a turn); id breaks no ties but keeps
    # the cursor shape the same as every other list.
    ordering = Ordering((messages_table.c.sequence, messages_table.c.id))

    async def after_sequence(
        self, principal: Principal, session_id: UUID, after: int, limit: int, upto: int | None = None
    ) -> list[Any]:
        """Up to `limit` of the caller's session's messages with after < sequence <= upto,
        in order: how subscriptions replay what a client missed (one index range scan)."""
        t = self.table
        stmt = owned_children(t, principal).where(
            t.c.session_id == session_id, t.c.sequence > after
        )
        if upto is not None:
            stmt = stmt.where(t.c.sequence <= upto)
        stmt = stmt.order_by(t.c.sequence).limit(limit)
        return list((await self.conn.execute(stmt)).all())

    async def append(
        self,
        session_id: UUID,
        *,
        role: str,
        content: list[dict[str, Any]],
        turn_id: UUID | None = None,
        model: str | None = None,
        parent_tool_use_id: str | None = None,
        uuid: str | None = None,
    ) -> Any:
        """Store a message at the session's next sequence; call inside a transaction.

        The sequence comes from `sessions.last_sequence`, bumped by the same transaction, so
        sequences are gapless and concurrent writers to one session queue on its row.
        """
        now = utcnow()
        bumped = await self.conn.execute(
            update(sessions_table)
            .where(sessions_table.c.id == session_id)
            .values(last_sequence=sessions_table.c.last_sequence + 1, updated_at=now)
            .returning(sessions_table.c.last_sequence)
        )
        sequence = bumped.scalar_one()
        row = await self.conn.execute(
            insert(messages_table)
            .values(
                session_id=session_id, turn_id=turn_id, sequence=sequence, role=role,
                content=content, model=model, parent_tool_use_id=parent_tool_use_id,
                uuid=uuid, created_at=now,
            )
            .returning(*messages_table.c)
        )  # fmt: skip
        return row.one()
