"""The run's own PostgreSQL database: created, migrated, bulk-loaded, and dropped after."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from graphql_api.domain.api_keys import ApiKeyService, hash_secret
from graphql_api.store.database import Database
from graphql_api.store.migrate import upgrade_to_head
from graphql_api.store.types import new_id, utcnow

SESSION_COLUMNS = (
    "id", "owner_key_id", "parent_id", "title", "status", "options", "model",
    "agent_session_id", "workspace", "last_sequence", "total_turns", "total_cost_usd",
    "metadata", "created_at", "updated_at",
)  # fmt: skip
JSON_COLUMNS = {"options", "metadata"}


class BenchDatabase:
    def __init__(self, admin_dsn: str, name: str) -> None:
        self.admin_dsn = admin_dsn
        self.name = name
        host_part = admin_dsn.split("://", 1)[1].rsplit("/", 1)[0]
        self.dsn = f"postgresql://{host_part}/{name}"
        self.url = f"postgresql+asyncpg://{host_part}/{name}"
        self.db = Database(self.url, pool_size=5)
        self.version = ""

    async def create(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
            self.version = await conn.fetchval("show server_version")
        finally:
            await conn.close()
        await upgrade_to_head(self.url)

    async def drop(self) -> None:
        await self.db.dispose()
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()

    async def new_key(self, name: str, *, admin: bool = False) -> tuple[uuid.UUID, str]:
        """A key with a known secret, to call the API with."""
        created = await ApiKeyService(self.db).create(name, is_admin=admin)
        return created.row["id"], created.secret

    async def copy_keys(self, count: int) -> list[uuid.UUID]:
        """Keys nobody calls with (random secrets), by COPY."""
        now = utcnow()
        rows = []
        for i in range(count):
            secret = uuid.uuid4().hex
            rows.append((new_id(), f"tenant-{i}", secret[:12], hash_secret(secret), False, now))
        await self.copy(
            "api_keys", ("id", "name", "prefix", "key_hash", "is_admin", "created_at"), rows
        )
        return [r[0] for r in rows]

    async def copy_sessions(self, sessions: Iterable[dict[str, Any]]) -> int:
        """Session rows (as `store.seed.build_session` makes them) by COPY."""
        rows = [
            tuple(json.dumps(s.get(c)) if c in JSON_COLUMNS else s.get(c) for c in SESSION_COLUMNS)
            for s in sessions
        ]
        await self.copy("sessions", SESSION_COLUMNS, rows)
        return len(rows)

    async def copy(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.copy_records_to_table(table, records=rows, columns=list(columns))
        finally:
            await conn.close()

    async def analyze(self) -> None:
        """Fresh planner statistics and visibility map, as a running database would have."""
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()


@asynccontextmanager
async def bench_database(admin_dsn: str, *, keep: bool = False) -> AsyncIterator[BenchDatabase]:
    bench = BenchDatabase(admin_dsn, f"bench_{uuid.uuid4().hex[:10]}")
    await bench.create()
    try:
        yield bench
    finally:
        if keep:
            await bench.db.dispose()
            print(f"kept database {bench.name} ({bench.url})")
        else:
            await bench.drop()
