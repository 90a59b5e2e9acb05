"""Instance-independent turn counts for metrics: how many turns wait in the queue."""

from __future__ import annotations

from sqlalchemy import func, select

from graphql_api.store.database import Database
from graphql_api.store.turns import turns_table


async def queued_turns(db: Database) -> int:
    """Queued turns of every session (served by ix_turns_status_created)."""
    async with db.read() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(turns_table).where(turns_table.c.status == "QUEUED")
        )
    return int(count or 0)
