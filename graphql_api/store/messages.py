"""MessageRepository: a session's (or a turn's) messages in sequence order, and appending one."""

from __future__ import annotations

from functools import cache
from typing import Any
from uuid import UUID

from sqlalchemy import Table, bindparam, insert, select, update

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
        """Store a message at the session's next sequence, atomically: inside a transaction,
        or on its own through `Database.single_statement()`.

        The sequence comes from `sessions.last_sequence`, bumped by the same statement (or
        transaction), so sequences are gapless and concurrent writers to one session queue on
        its row.
        """
        now = utcnow()
        values = {
            "session_id": session_id, "turn_id": turn_id, "role": role, "content": content,
            "model": model, "parent_tool_use_id": parent_tool_use_id, "uuid": uuid,
            "created_at": now,
        }  # fmt: skip
        if self.conn.dialect.name == "postgresql":
            return await self._append_in_one_statement(session_id, now, values)
        bumped = await self.conn.execute(
            update(sessions_table)
            .where(sessions_table.c.id == session_id)
            .values(last_sequence=sessions_table.c.last_sequence + 1, updated_at=now)
            .returning(sessions_table.c.last_sequence)
        )
        sequence = bumped.scalar_one()
        row = await self.conn.execute(
            insert(messages_table).values(sequence=sequence, **values).returning(*messages_table.c)
        )
        return row.one()

    async def _append_in_one_statement(self, session_id: UUID, now: Any, values: dict[str, Any]) -> Any:
        """PostgreSQL: the sequence bump and the insert as one statement (a data-modifying
        CTE), so a message costs one round trip and needs no transaction of its own."""
        params = {f"m_{name}": value for name, value in values.items()}
        params["bumped_session"] = session_id
        params["bumped_at"] = now
        return (await self.conn.execute(_append_statement(tuple(values)), params)).one()


@cache
def _append_statement(names: tuple[str, ...]) -> Any:
    """Built once for the columns `append` sets: only the parameters change per message."""
    t = messages_table
    s = sessions_table
    bumped = (
        update(s)
        .where(s.c.id == bindparam("bumped_session", type_=s.c.id.type))
        .values(
            last_sequence=s.c.last_sequence + 1,
            updated_at=bindparam("bumped_at", type_=s.c.updated_at.type),
        )
        .returning(s.c.last_sequence)
        .cte("bumped")
    )
    row = select(
        *(bindparam(f"m_{name}", type_=t.c[name].type) for name in names), bumped.c.last_sequence
    )
    return insert(t).from_select([*names, "sequence"], row).returning(*t.c)

