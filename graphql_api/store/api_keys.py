"""ApiKeyRepository: keys are found by the hash of their secret, never by the secret."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from graphql_api.domain.principal import Principal
from graphql_api.store.models import ApiKey

api_keys_table: Table = ApiKey.__table__  # type: ignore[assignment]
t = api_keys_table


class ApiKeyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def find_active_by_hash(self, key_hash: str) -> Any | None:
        stmt = select(t).where(t.c.key_hash == key_hash, t.c.revoked_at.is_(None))
        return (await self.conn.execute(stmt)).first()

    async def find_by_name(self, name: str) -> Any | None:
        stmt = select(t).where(t.c.name == name, t.c.revoked_at.is_(None)).order_by(t.c.created_at)
        return (await self.conn.execute(stmt.limit(1))).first()

    async def get_many(self, principal: Principal, ids: Sequence[UUID]) -> dict[UUID, Any]:
        """A key sees itself; an admin key sees every key."""
        stmt = select(t).where(t.c.id.in_(ids))
        if not principal.is_admin:
            stmt = stmt.where(t.c.id == principal.key_id)
        return {row.id: row for row in (await self.conn.execute(stmt)).all()}

    async def count(self) -> int:
        return int((await self.conn.execute(select(func.count()).select_from(t))).scalar_one())

    async def insert(self, values: dict[str, Any]) -> None:
        await self.conn.execute(insert(t).values(**values))

    async def touch(self, key_id: UUID, when: datetime) -> None:
        await self.conn.execute(update(t).where(t.c.id == key_id).values(last_used_at=when))

    async def revoke(self, key_id: UUID, when: datetime) -> bool:
        result = await self.conn.execute(
            update(t).where(t.c.id == key_id, t.c.revoked_at.is_(None)).values(revoked_at=when)
        )
        return bool(result.rowcount)
